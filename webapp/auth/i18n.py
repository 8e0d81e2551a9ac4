"""The Vietnamese catalogue of the users, sign-in and admin pages (domain ``security``,
webapp/translations/vi/LC_MESSAGES/security.po; English is the message id)."""

from flask_babel import Domain

domain = Domain(domain="security")
gettext = domain.gettext
