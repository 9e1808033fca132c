"""Alertmanager's configuration file (`route`, `receivers`, `inhibit_rules`, `time_intervals`).

Parsed strictly, as Alertmanager 0.25 does: unknown keys, undefined receivers or time
intervals, bad matchers, durations and label names are errors naming the file, line and reason.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import yaml

from openmanager.errors import ConfigError
from openmanager.notify import yamlnodes
from openmanager.notify.matchers import LABEL_NAME, Matcher, MatcherError, parse_matchers
from openmanager.notify.timeintervals import TimeInterval, TimeIntervalError, parse_interval
from openmanager.notify.yamlnodes import LineDict, line_of
from openmanager.security.secrets import reveal

_DURATION = re.compile(
    r"^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$"
)
_DURATION_S = (365 * 86400, 7 * 86400, 86400, 3600, 60, 1, 0.001)

# Receiver integrations Alertmanager knows; those we do not deliver to are kept and reported.
OTHER_INTEGRATIONS = (
    "discord_configs",
    "opsgenie_configs",
    "pagerduty_configs",
    "pushover_configs",
    "sns_configs",
    "telegram_configs",
    "victorops_configs",
    "webex_configs",
    "wechat_configs",
    "msteams_configs",
)


class _Invalid(Exception):
    """A validation failure at a line; turned into ConfigError with the file name."""

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(reason)
        self.line = line
        self.reason = reason


def parse_duration_s(text: Any, line: int) -> float:
    """Seconds in a Prometheus model duration (`1h30m`, `0`, ordered units)."""
    s = str(text).strip() if text is not None else ""
    if s == "0":
        return 0.0
    m = _DURATION.match(s)
    if not s or m is None:
        raise _Invalid(line, f'not a valid duration string: "{s}"')
    return float(sum(int(g) * mult for g, mult in zip(m.groups(), _DURATION_S, strict=True) if g))


@dataclass
class WebhookConfig:
    url: str
    send_resolved: bool = True
    max_alerts: int = 0


@dataclass
class SlackConfig:
    api_url: str
    channel: str = ""
    username: str = ""
    icon_emoji: str = ""
    icon_url: str = ""
    title: str = ""
    title_link: str = ""
    text: str = ""
    pretext: str = ""
    color: str = ""
    footer: str = ""
    send_resolved: bool = False


@dataclass
class EmailConfig:
    to: str
    from_: str
    smarthost: tuple[str, int]
    hello: str = "localhost"
    auth_username: str = ""
    auth_password: str = ""
    require_tls: bool = True
    headers: dict[str, str] = field(default_factory=dict)
    html: str = ""
    text: str = ""
    send_resolved: bool = False


@dataclass
class ReceiverConfig:
    """A named receiver and its integrations."""

    name: str
    webhooks: list[WebhookConfig] = field(default_factory=list)
    slacks: list[SlackConfig] = field(default_factory=list)
    emails: list[EmailConfig] = field(default_factory=list)
    unsupported: list[str] = field(default_factory=list)
    line: int = 0


@dataclass
class RouteConfig:
    """One node of the routing tree as written (None = inherit from the parent)."""

    receiver: str | None = None
    group_by: tuple[str, ...] | None = None
    group_by_all: bool = False
    matchers: tuple[Matcher, ...] = ()
    continue_: bool = False
    group_wait_s: float | None = None
    group_interval_s: float | None = None
    repeat_interval_s: float | None = None
    mute_time_intervals: tuple[str, ...] = ()
    active_time_intervals: tuple[str, ...] = ()
    routes: list[RouteConfig] = field(default_factory=list)
    line: int = 0


@dataclass
class InhibitRule:
    source_matchers: tuple[Matcher, ...]
    target_matchers: tuple[Matcher, ...]
    equal: tuple[str, ...]


@dataclass
class NotifyConfig:
    """A validated Alertmanager configuration."""

    route: RouteConfig
    receivers: dict[str, ReceiverConfig]
    inhibit_rules: list[InhibitRule]
    time_intervals: dict[str, list[TimeInterval]]
    resolve_timeout_s: float = 300.0
    source: str = ""


def _mapping(value: Any, line: int, what: str) -> LineDict:
    if value is None:
        out = LineDict()
        out.line, out.key_lines = line, {}
        return out
    if not isinstance(value, LineDict):
        raise _Invalid(line, f"{what} must be a mapping, got {type(value).__name__}")
    return value


def _check_keys(obj: LineDict, allowed: set[str] | tuple[str, ...], type_name: str) -> None:
    for key in obj:
        if key not in allowed:
            raise _Invalid(line_of(obj, key), f"field {key} not found in type {type_name}")


def _list(obj: LineDict, key: str) -> list[Any]:
    value = obj.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise _Invalid(line_of(obj, key), f"{key} must be a list")
    return value


def _str(obj: LineDict, key: str, default: str = "") -> str:
    value = obj.get(key, default)
    if value is None:
        return default
    if isinstance(value, (dict, list)):
        raise _Invalid(line_of(obj, key), f"{key} must be a string")
    try:
        return reveal(str(value))  # any value may be an `enc:v1:` AES-256-GCM token
    except ConfigError as exc:
        raise _Invalid(line_of(obj, key), f"{key}: {exc.message}") from None


def _bool(obj: LineDict, key: str, default: bool) -> bool:
    value = obj.get(key, default)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise _Invalid(line_of(obj, key), f"cannot unmarshal {value!r} into bool for {key}")
    return value


def _url(text: str, line: int, key: str) -> str:
    u = urlparse(text)
    if u.scheme not in ("http", "https"):
        raise _Invalid(line, f'unsupported scheme "{u.scheme}" for URL in {key}')
    if not u.netloc:
        raise _Invalid(line, f"missing host for URL in {key}")
    return text


def _labels_map(obj: LineDict, key: str, op: str) -> list[Matcher]:
    value = _mapping(obj.get(key), line_of(obj, key), key)
    out = []
    for name, v in value.items():
        if not LABEL_NAME.match(name):
            raise _Invalid(line_of(value, name), f'invalid label name "{name}"')
        if op == "=~" and v is None:
            raise _Invalid(line_of(value, name), f'invalid regexp value for "{name}"')
        try:
            out.append(Matcher.make(name, op, "" if v is None else str(v)))
        except MatcherError as exc:
            raise _Invalid(line_of(value, name), str(exc)) from None
    return out


def _matcher_list(obj: LineDict, key: str) -> list[Matcher]:
    out: list[Matcher] = []
    for item in _list(obj, key):
        try:
            out.extend(parse_matchers(str(item)))
        except MatcherError as exc:
            raise _Invalid(line_of(obj, key), str(exc)) from None
    return out


def _label_names(obj: LineDict, key: str, what: str) -> tuple[str, ...]:
    names = tuple(str(x) for x in _list(obj, key))
    for n in names:
        if not LABEL_NAME.match(n):
            raise _Invalid(line_of(obj, key), f'invalid label name "{n}" in {what} list')
    return names


_ROUTE_KEYS = (
    "receiver",
    "group_by",
    "match",
    "match_re",
    "matchers",
    "continue",
    "mute_time_intervals",
    "active_time_intervals",
    "routes",
    "group_wait",
    "group_interval",
    "repeat_interval",
)


def _route(obj: Any, line: int) -> RouteConfig:
    node = _mapping(obj, line, "route")
    _check_keys(node, _ROUTE_KEYS, "config.plain")
    matchers = _labels_map(node, "match", "=") + _labels_map(node, "match_re", "=~")
    matchers += _matcher_list(node, "matchers")
    group_by_all, group_by = False, []
    for label in _list(node, "group_by"):
        if label == "...":
            group_by_all = True
        elif not LABEL_NAME.match(str(label)):
            raise _Invalid(
                line_of(node, "group_by"), f'invalid label name "{label}" in group_by list'
            )
        else:
            group_by.append(str(label))
    if group_by and group_by_all:
        raise _Invalid(
            line_of(node, "group_by"),
            "cannot have wildcard group_by (`...`) and other other labels at the same time",
        )
    if len(set(group_by)) != len(group_by):
        dup = next(g for g in group_by if group_by.count(g) > 1)
        raise _Invalid(line_of(node, "group_by"), f'duplicated label "{dup}" in group_by')

    def dur(key: str) -> float | None:
        if key not in node or node[key] is None:
            return None
        return parse_duration_s(node[key], line_of(node, key))

    group_interval, repeat_interval = dur("group_interval"), dur("repeat_interval")
    if group_interval == 0:
        raise _Invalid(line_of(node, "group_interval"), "group_interval cannot be zero")
    if repeat_interval == 0:
        raise _Invalid(line_of(node, "repeat_interval"), "repeat_interval cannot be zero")
    return RouteConfig(
        receiver=_str(node, "receiver") or None,
        group_by=tuple(group_by) if "group_by" in node and node["group_by"] is not None else None,
        group_by_all=group_by_all,
        matchers=tuple(sorted(matchers, key=lambda m: (m.name, m.op, m.value))),
        continue_=_bool(node, "continue", False),
        group_wait_s=dur("group_wait"),
        group_interval_s=group_interval,
        repeat_interval_s=repeat_interval,
        mute_time_intervals=tuple(str(x) for x in _list(node, "mute_time_intervals")),
        active_time_intervals=tuple(str(x) for x in _list(node, "active_time_intervals")),
        routes=[_route(child, line_of(node, "routes")) for child in _list(node, "routes")],
        line=node.line,
    )


_GLOBAL_KEYS = {
    "resolve_timeout", "http_config", "smtp_from", "smtp_hello", "smtp_smarthost",
    "smtp_auth_username", "smtp_auth_password", "smtp_auth_password_file", "smtp_auth_secret",
    "smtp_auth_identity", "smtp_require_tls", "smtp_tls_config", "slack_api_url",
    "slack_api_url_file", "pagerduty_url", "opsgenie_api_url", "opsgenie_api_key",
    "opsgenie_api_key_file", "wechat_api_url", "wechat_api_secret", "wechat_api_corp_id",
    "victorops_api_url", "victorops_api_key", "victorops_api_key_file", "telegram_api_url",
    "webex_api_url",
}  # fmt: skip
_HTTP_KEYS = {"http_config"}
_WEBHOOK_KEYS = {"send_resolved", "url", "url_file", "max_alerts"} | _HTTP_KEYS
_SLACK_KEYS = {
    "send_resolved", "api_url", "api_url_file", "channel", "username", "color", "title",
    "title_link", "pretext", "text", "fields", "short_fields", "footer", "fallback",
    "callback_id", "icon_emoji", "icon_url", "image_url", "thumb_url", "link_names",
    "mrkdwn_in", "actions",
} | _HTTP_KEYS  # fmt: skip
_EMAIL_KEYS = {
    "send_resolved", "to", "from", "hello", "smarthost", "auth_username", "auth_password",
    "auth_password_file", "auth_secret", "auth_identity", "headers", "html", "text",
    "require_tls", "tls_config",
}  # fmt: skip


def _hostport(text: str, line: int) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep:
        raise _Invalid(line, f"address {text}: missing port in address")
    if not port:
        raise _Invalid(line, f'address "{text}": port cannot be empty')
    if not port.isdigit():
        raise _Invalid(line, f"address {text}: invalid port {port!r}")
    return host.strip("[]"), int(port)


def _receiver(obj: Any, line: int, glob: LineDict) -> ReceiverConfig:
    node = _mapping(obj, line, "receiver")
    known = {"name", "webhook_configs", "slack_configs", "email_configs", *OTHER_INTEGRATIONS}
    _check_keys(node, known, "config.plain")
    name = _str(node, "name")
    if not name:
        raise _Invalid(node.line, "missing name in receiver")
    rc = ReceiverConfig(name=name, line=node.line)
    for item in _list(node, "webhook_configs"):
        wh = _mapping(item, line_of(node, "webhook_configs"), "webhook config")
        _check_keys(wh, _WEBHOOK_KEYS, "config.plain")
        url = _str(wh, "url")
        if not url and not _str(wh, "url_file"):
            raise _Invalid(wh.line, "one of url or url_file must be configured")
        if url and _str(wh, "url_file"):
            raise _Invalid(wh.line, "at most one of url & url_file must be configured")
        if url:
            _url(url, line_of(wh, "url"), "url")
        else:
            url = Path(_str(wh, "url_file")).read_text().strip()
        max_alerts = wh.get("max_alerts", 0) or 0
        if not isinstance(max_alerts, int) or max_alerts < 0:
            raise _Invalid(line_of(wh, "max_alerts"), "max_alerts must be a non-negative integer")
        rc.webhooks.append(WebhookConfig(url, _bool(wh, "send_resolved", True), max_alerts))
    for item in _list(node, "slack_configs"):
        sc = _mapping(item, line_of(node, "slack_configs"), "slack config")
        _check_keys(sc, _SLACK_KEYS, "config.plain")
        api_url = _str(sc, "api_url") or _str(glob, "slack_api_url")
        if api_url:
            _url(api_url, line_of(sc, "api_url") or line_of(glob, "slack_api_url"), "api_url")
        elif _str(sc, "api_url_file") or _str(glob, "slack_api_url_file"):
            api_url = (
                Path(_str(sc, "api_url_file") or _str(glob, "slack_api_url_file"))
                .read_text()
                .strip()
            )
        else:
            raise _Invalid(sc.line, "no global Slack API URL set either inline or in a file")
        rc.slacks.append(
            SlackConfig(
                api_url=api_url,
                channel=_str(sc, "channel"),
                username=_str(sc, "username"),
                icon_emoji=_str(sc, "icon_emoji"),
                icon_url=_str(sc, "icon_url"),
                title=_str(sc, "title"),
                title_link=_str(sc, "title_link"),
                text=_str(sc, "text"),
                pretext=_str(sc, "pretext"),
                color=_str(sc, "color"),
                footer=_str(sc, "footer"),
                send_resolved=_bool(sc, "send_resolved", False),
            )
        )
    for item in _list(node, "email_configs"):
        ec = _mapping(item, line_of(node, "email_configs"), "email config")
        _check_keys(ec, _EMAIL_KEYS, "config.plain")
        to = _str(ec, "to")
        if not to:
            raise _Invalid(ec.line, "missing to address in email config")
        headers = _mapping(ec.get("headers"), line_of(ec, "headers"), "headers")
        lowered = [h.title() for h in headers]
        if len(set(lowered)) != len(lowered):
            raise _Invalid(line_of(ec, "headers"), "duplicate header in email config")
        smarthost_text = _str(ec, "smarthost") or _str(glob, "smtp_smarthost")
        if not smarthost_text:
            raise _Invalid(ec.line, "no global SMTP smarthost set")
        smarthost = _hostport(
            smarthost_text, line_of(ec, "smarthost") or line_of(glob, "smtp_smarthost")
        )
        sender = _str(ec, "from") or _str(glob, "smtp_from")
        if not sender:
            raise _Invalid(ec.line, "no global SMTP from set")
        rc.emails.append(
            EmailConfig(
                to=to,
                from_=sender,
                smarthost=smarthost,
                hello=_str(ec, "hello") or _str(glob, "smtp_hello", "localhost"),
                auth_username=_str(ec, "auth_username") or _str(glob, "smtp_auth_username"),
                auth_password=_str(ec, "auth_password") or _str(glob, "smtp_auth_password"),
                require_tls=_bool(ec, "require_tls", _bool(glob, "smtp_require_tls", True)),
                headers={str(k): str(v) for k, v in headers.items()},
                html=_str(ec, "html"),
                text=_str(ec, "text"),
                send_resolved=_bool(ec, "send_resolved", False),
            )
        )
    for key in OTHER_INTEGRATIONS:
        rc.unsupported += [key.removesuffix("_configs")] * len(_list(node, key))
    return rc


def _inhibit_rule(obj: Any, line: int) -> InhibitRule:
    node = _mapping(obj, line, "inhibit rule")
    keys = (
        "source_match", "source_match_re", "source_matchers",
        "target_match", "target_match_re", "target_matchers", "equal",
    )  # fmt: skip
    _check_keys(node, keys, "config.plain")
    source = _labels_map(node, "source_match", "=") + _labels_map(node, "source_match_re", "=~")
    target = _labels_map(node, "target_match", "=") + _labels_map(node, "target_match_re", "=~")
    return InhibitRule(
        source_matchers=tuple(source + _matcher_list(node, "source_matchers")),
        target_matchers=tuple(target + _matcher_list(node, "target_matchers")),
        equal=_label_names(node, "equal", "equal"),
    )


def _time_intervals(root: LineDict, key: str, names: dict[str, list[TimeInterval]]) -> None:
    for item in _list(root, key):
        node = _mapping(item, line_of(root, key), "time interval")
        _check_keys(node, ("name", "time_intervals"), "config.plain")
        name = _str(node, "name")
        if not name:
            raise _Invalid(node.line, "missing name in time interval")
        if name in names:
            what = "mute time interval" if key == "mute_time_intervals" else "time interval"
            raise _Invalid(node.line, f'{what} "{name}" is not unique')
        intervals = []
        for entry in _list(node, "time_intervals"):
            try:
                intervals.append(
                    parse_interval(_mapping(entry, line_of(node, "time_intervals"), "interval"))
                )
            except TimeIntervalError as exc:
                raise _Invalid(getattr(entry, "line", node.line), str(exc)) from None
        names[name] = intervals


def _walk(route: RouteConfig, fn: Callable[[RouteConfig], None]) -> None:
    for child in route.routes:
        _walk(child, fn)
    fn(route)


def _build(root: Any) -> NotifyConfig:
    if root is None:
        raise _Invalid(1, "no route provided in config")
    node = _mapping(root, 1, "configuration")
    _check_keys(
        node,
        (
            "global",
            "route",
            "receivers",
            "inhibit_rules",
            "templates",
            "mute_time_intervals",
            "time_intervals",
        ),
        "config.plain",
    )
    glob = _mapping(node.get("global"), line_of(node, "global"), "global")
    _check_keys(glob, _GLOBAL_KEYS, "config.plain")
    resolve_timeout = (
        parse_duration_s(glob["resolve_timeout"], line_of(glob, "resolve_timeout"))
        if glob.get("resolve_timeout") is not None
        else 300.0
    )
    if glob.get("slack_api_url"):
        _url(_str(glob, "slack_api_url"), line_of(glob, "slack_api_url"), "slack_api_url")
    if glob.get("smtp_smarthost"):
        _hostport(_str(glob, "smtp_smarthost"), line_of(glob, "smtp_smarthost"))
    receivers: dict[str, ReceiverConfig] = {}
    for item in _list(node, "receivers"):
        rc = _receiver(item, line_of(node, "receivers"), glob)
        if rc.name in receivers:
            raise _Invalid(rc.line, f'notification config name "{rc.name}" is not unique')
        receivers[rc.name] = rc
    inhibit = [
        _inhibit_rule(x, line_of(node, "inhibit_rules")) for x in _list(node, "inhibit_rules")
    ]
    if node.get("route") is None:
        raise _Invalid(node.line, "no routes provided")
    route = _route(node["route"], line_of(node, "route"))
    if not route.receiver:
        raise _Invalid(route.line, "root route must specify a default receiver")
    if route.matchers:
        raise _Invalid(route.line, "root route must not have any matchers")
    if route.mute_time_intervals:
        raise _Invalid(route.line, "root route must not have any mute time intervals")
    if route.active_time_intervals:
        raise _Invalid(route.line, "root route must not have any active time intervals")

    def check_receiver(r: RouteConfig) -> None:
        if r.receiver and r.receiver not in receivers:
            raise _Invalid(r.line, f'undefined receiver "{r.receiver}" used in route')

    _walk(route, check_receiver)
    intervals: dict[str, list[TimeInterval]] = {}
    _time_intervals(node, "mute_time_intervals", intervals)
    _time_intervals(node, "time_intervals", intervals)

    def check_intervals(r: RouteConfig) -> None:
        for name in r.active_time_intervals + r.mute_time_intervals:
            if name not in intervals:
                raise _Invalid(r.line, f'undefined time interval "{name}" used in route')

    _walk(route, check_intervals)
    return NotifyConfig(route, receivers, inhibit, intervals, resolve_timeout)


def parse_config(text: str, source: str = "<config>") -> NotifyConfig:
    """Validate configuration text; ConfigError says `source:line: reason`."""
    try:
        root = yamlnodes.load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = mark.line + 1 if mark is not None else 0
        raise ConfigError(f"{source}:{line}: invalid YAML: {exc.problem}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: invalid YAML: {exc}") from None
    try:
        cfg = _build(root)
    except _Invalid as exc:
        raise ConfigError(f"{source}:{exc.line}: {exc.reason}") from None
    cfg.source = source
    return cfg


def load_config(path: Path) -> NotifyConfig:
    """Read and validate an Alertmanager configuration file."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    return parse_config(text, str(path))


def default_config() -> NotifyConfig:
    """No routing file: one receiver without integrations (alerts are grouped and kept in history)."""
    return parse_config("route:\n  receiver: default\nreceivers:\n  - name: default\n", "<default>")
