"""The settings site's pages, one module per page group (issue 13).

``base`` holds the plumbing every page uses (render, require, one ``posted``,
CSRF, the login's scope); each other module is one group of pages and gets
a ``base.Plumbing`` passed in. ``web.app`` builds them and holds the route
table; nothing here imports it.
"""
