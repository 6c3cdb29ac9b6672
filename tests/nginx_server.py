"""Debian's nginx with the committed config (deploy/nginx/orchestrator.conf.template), for the
tests: the template's variables filled in as the official image does (only the named ones),
inside a minimal nginx.conf of the test's own (its own prefix, pid, logs, temp folders)."""
from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import requests

REPO_ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = REPO_ROOT / "deploy" / "nginx" / "orchestrator.conf.template"
TEMPLATE_VARIABLES = ("ORCHESTRATOR_UPSTREAM", "NGINX_PORT", "MAX_CONTENT_LENGTH")


def nginx_binary() -> str | None:
    return shutil.which("nginx") or next(
        (path for path in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(path, os.X_OK)),
        None)


def render(values: dict[str, str]) -> str:
    """The template with `${NAME}` replaced for the names given, like envsubst in the image."""
    text = TEMPLATE.read_text()
    for name, value in values.items():
        text = text.replace("${" + name + "}", value)
    left = set(re.findall(r"\$\{([A-Z_]+)\}", text))
    assert not left, f"template variables left unset: {left}"
    return text


class Nginx:
    def __init__(self, folder: Path, port: int, upstream: str, max_body: int):
        self.folder = folder
        self.port = port
        self.values = {"ORCHESTRATOR_UPSTREAM": upstream, "NGINX_PORT": f"127.0.0.1:{port}",
                       "MAX_CONTENT_LENGTH": str(max_body)}
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def write_config(self) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / "orchestrator.conf").write_text(render(self.values))
        temp = {name: self.folder / name for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi")}
        for path in temp.values():
            path.mkdir(exist_ok=True)
        # As root, nginx's workers would switch to `nobody`, who cannot enter the test's folder.
        user = "user root;" if os.geteuid() == 0 else ""
        main = f"""
{user}
daemon off;
worker_processes 1;
pid {self.folder}/nginx.pid;
error_log {self.folder}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {temp['body']};
    proxy_temp_path {temp['proxy']};
    fastcgi_temp_path {temp['fastcgi']};
    uwsgi_temp_path {temp['uwsgi']};
    scgi_temp_path {temp['scgi']};
    include {self.folder}/orchestrator.conf;
}}
"""
        path = self.folder / "nginx.conf"
        path.write_text(main)
        return path

    def start(self, timeout: float = 15.0) -> Nginx:
        binary = nginx_binary()
        assert binary, "nginx is not installed"
        config = self.write_config()
        checked = subprocess.run([binary, "-t", "-p", str(self.folder), "-c", str(config)],
                                 capture_output=True, text=True, timeout=30)
        assert checked.returncode == 0, checked.stderr
        self.proc = subprocess.Popen([binary, "-p", str(self.folder), "-c", str(config)],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"nginx exited: {self.error_log()}"
            try:
                requests.get(self.url + "/health", timeout=1)
                return self
            except requests.ConnectionError:
                time.sleep(0.05)
        self.stop()
        raise AssertionError(f"nginx did not come up: {self.error_log()}")

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)  # graceful: finish what is in flight
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.proc = None

    def error_log(self) -> str:
        try:
            return (self.folder / "error.log").read_text()[-3000:]
        except OSError:
            return ""
