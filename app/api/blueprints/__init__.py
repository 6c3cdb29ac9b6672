"""One blueprint per resource: parse the request, call the domain, answer."""
