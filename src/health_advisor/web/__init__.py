"""The web UI: server-rendered pages for coordinators, professionals, clients and
administrators, mounted on the API's application by :func:`.app.mount_web`.

    app         mount_web(app, settings): the pages and /static on the API's app
    routing     the route class: CSRF on every POST, errors as pages, safe headers
    session     the signed session cookie, the CSRF guard, the signed-in user
    templating  Jinja2 per language (gettext catalogs, es-PE / en formats)
    views/      the pages, one module per audience
    charts      inline SVG charts (pure); trends: which metrics over which bands
    progress    charts assembled from the store; data: the store reads of the pages
"""
