"""Shared infrastructure: extensions, base models, permission policy, errors, i18n. No pages, no domain imports."""
