"""Channels (SMS, email, console) and message templates; knows nothing of reflections."""

from notifications.console import ConsoleChannel, select_channels
from notifications.messages import (
    Channel,
    ChannelName,
    Message,
    OnOutcome,
    Outcome,
    OutcomeStatus,
    holding,
)
from notifications.segments import SmsSize, fold_to_ascii, sms_size, sms_text
from notifications.sms import TwilioChannel, TwilioConfig
from notifications.smtp import SmtpChannel, SmtpConfig
from notifications.templates import (
    DigestTask,
    MessageKind,
    RenderedMessage,
    digest_tasks,
    format_local,
    format_local_date,
    render,
)

__all__ = [
    "Channel",
    "ChannelName",
    "ConsoleChannel",
    "DigestTask",
    "Message",
    "MessageKind",
    "OnOutcome",
    "Outcome",
    "OutcomeStatus",
    "RenderedMessage",
    "SmsSize",
    "SmtpChannel",
    "SmtpConfig",
    "TwilioChannel",
    "TwilioConfig",
    "digest_tasks",
    "fold_to_ascii",
    "format_local",
    "format_local_date",
    "holding",
    "render",
    "select_channels",
    "sms_size",
    "sms_text",
]
