from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, StringField
from wtforms.validators import Length


class PreferencesForm(FlaskForm):
    sms = BooleanField(_l("Text messages (SMS) to my phone"))
    email = BooleanField(_l("Email"))
    email_address = StringField(_l("Email address"), validators=[Length(max=254)])


class OutboxFilterForm(FlaskForm):
    class Meta:
        csrf = False

    status = SelectField(_l("Show"), default="", choices=[
        ("", _l("All messages")), ("dead", _l("Dead letters")), ("pending", _l("Waiting to be sent")),
        ("sent", _l("Delivered")), ("expired", _l("Expired")),
    ])
