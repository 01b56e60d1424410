"""The subscriber settings site (ひかり電話設定サイト の 着信お知らせメール; SITE-1 … SITE-10).

Server-rendered pages (Starlette, Jinja2), in Japanese, usable on a phone.
Every change goes through the domain layer in ``store/``; this package
holds only HTTP concerns: sessions, CSRF, throttling, forms and pages.
"""
