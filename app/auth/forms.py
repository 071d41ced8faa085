from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Length


class LoginForm(FlaskForm):
    phone = StringField(_l("Mobile phone"), validators=[DataRequired(_l("Enter your phone number."))])
    password = PasswordField(_l("Password"), validators=[DataRequired(_l("Enter your password."))])
    remember = BooleanField(_l("Keep me logged in on this device"))


class SignupForm(FlaskForm):
    name = StringField(_l("Your name"), validators=[DataRequired(_l("Enter your name.")), Length(max=80)])
    phone = StringField(_l("Mobile phone"), validators=[DataRequired(_l("Enter your phone number."))])
    password = PasswordField(_l("Password"), validators=[DataRequired(_l("Choose a password."))])
    community = SelectField(_l("Your community"), coerce=int)


class AccountForm(FlaskForm):
    name = StringField(_l("Your name"), validators=[DataRequired(_l("Enter your name.")), Length(max=80)])
    locale = SelectField(_l("Language"), choices=[("zh", "简体中文"), ("en", "English")])
    large_text = BooleanField(_l("Large text and high contrast"))


class PasswordForm(FlaskForm):
    current_password = PasswordField(_l("Current password"),
                                     validators=[DataRequired(_l("Enter your current password."))])
    new_password = PasswordField(_l("New password"), validators=[DataRequired(_l("Choose a new password."))])


class TokenForm(FlaskForm):
    # Its own id: the account form on the same page has a "name" too.
    name = StringField(_l("Token name"), id="token-name", validators=[
        DataRequired(_l("Give the token a name (60 characters at most).")),
        Length(max=60, message=_l("Give the token a name (60 characters at most)."))])
    scope = SelectField(
        _l("What it may do"),
        choices=[("read", _l("Only read")), ("write", _l("Read and write"))],
        default="read",
    )


class CodeForm(FlaskForm):
    """The 6-digit code sent by SMS."""

    code = StringField(_l("Code from the SMS"), validators=[DataRequired(_l("Enter the code from the SMS."))])


class LoginCodeForm(FlaskForm):
    """The code sent by SMS and the password: a log-in past the throttle."""

    code = StringField(_l("Code from the SMS"), validators=[DataRequired(_l("Enter the code from the SMS."))])
    password = PasswordField(_l("Password"), validators=[DataRequired(_l("Enter your password."))])


class SendCodeForm(FlaskForm):
    phone = StringField(_l("Mobile phone"), validators=[DataRequired(_l("Enter your phone number."))])


class EmptyForm(FlaskForm):
    """A form with only the CSRF token, for buttons that change state."""
