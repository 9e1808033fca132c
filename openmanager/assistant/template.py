"""The built-in narrator: a deterministic answer from evidence, in English or Korean, no model.

Every number it writes is followed by its citation mark `[n]`; the Sources list at the end
maps each mark to the PromQL (or alert) that produced it.
"""

from __future__ import annotations

from openmanager.assistant.evidence import Evidence, Fact
from openmanager.assistant.topics import BY_NAME

PHRASES: dict[str, dict[str, str]] = {
    "en": {
        "unknown_server": 'I do not know a server called "{name}"; the closest names are {closest}. '
                          "({n} servers report metrics now.)",
        "unknown_metric": 'There is no metric called "{name}"; the closest names are {closest}.',
        "corrected": 'I read "{said}" as {name}.',
        "cause": "Most likely cause: {what}.",
        "cause_dep": "Most likely cause: {what} — {server} is a dependency of {asked}.",
        "no_cause": "Nothing abnormal found on {where} in the figures I checked.",
        "fleet": "the fleet",
        "asked": "What you asked about:",
        "also": "Also abnormal:",
        "alerts": "Alerts:",
        "anomalies": "Anomalies:",
        "forecasts": "Forecasts:",
        "incidents": "Incidents:",
        "runbook": "Runbook",
        "sources": "Sources:",
        "is": "{label} on {where} is {value} [{ref}]",
        "usual": " ({change}× its average over the previous hour, {base} [{bref}])",
        "alert": "{name} on {server}: value {value} [{ref}] — {summary}",
        "anomaly": "{check} on {server}: observed {value} [{ref}]",
        "forecast": "{what} on {server} runs out in about {hours} h [{ref}]",
        "incident": "incident #{id}: candidate cause {metric} on {server}, score {score} [{ref}]",
        "up": "up", "down": "down",
    },
    "ko": {
        "unknown_server": '"{name}"(이)라는 서버는 없습니다. 가장 비슷한 이름: {closest}. '
                          "(현재 메트릭을 보내는 서버 {n}대)",
        "unknown_metric": '"{name}"(이)라는 메트릭은 없습니다. 가장 비슷한 이름: {closest}.',
        "corrected": '"{said}"을(를) {name}(으)로 이해했습니다.',
        "cause": "가장 유력한 원인: {what}.",
        "cause_dep": "가장 유력한 원인: {what} — {server}은(는) {asked}이(가) 의존하는 서버입니다.",
        "no_cause": "{where}에서 확인한 지표 중 이상한 값은 없습니다.",
        "fleet": "전체 서버",
        "asked": "질문하신 항목:",
        "also": "그 밖의 이상:",
        "alerts": "알림:",
        "anomalies": "이상 징후:",
        "forecasts": "예측:",
        "incidents": "인시던트:",
        "runbook": "런북",
        "sources": "출처:",
        "is": "{where}의 {label} {value} [{ref}]",
        "usual": " (직전 1시간 평균 {base} [{bref}]의 {change}배)",
        "alert": "{server}의 {name}: 값 {value} [{ref}] — {summary}",
        "anomaly": "{server}의 {check}: 관측값 {value} [{ref}]",
        "forecast": "{server}의 {what}: 약 {hours}시간 후 소진 [{ref}]",
        "incident": "인시던트 #{id}: 원인 후보 {server}의 {metric}, 점수 {score} [{ref}]",
        "up": "정상", "down": "중단",
    },
}  # fmt: skip


def fmt_value(value: float, unit: str, lang: str = "en") -> str:
    """A figure as the answer shows it (percent, ms/s, bytes per second, up/down)."""
    if unit == "ratio":
        return f"{value * 100:.1f}%"
    if unit == "seconds":
        return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"
    if unit == "bytes_per_second":
        for div, suffix in ((1e9, "GB/s"), (1e6, "MB/s"), (1e3, "kB/s")):
            if abs(value) >= div:
                return f"{value / div:.2f} {suffix}"
        return f"{value:.0f} B/s"
    if unit == "up":
        return PHRASES[lang]["up" if value >= 0.5 else "down"]
    return f"{value:.4g}"


def _where(f: Fact) -> str:
    mount = f.labels.get("mountpoint")
    return f"{f.server} {mount}" if mount else f.server


def describe(f: Fact, ev: Evidence) -> str:
    """One figure with its citation, and its baseline when it moved."""
    p = PHRASES[ev.language]
    topic = BY_NAME.get(f.topic)
    if f.kind == "cause":
        return p["incident"].format(id=f.labels.get("incident", ""), metric=f.note, server=f.server,
                                    score=f"{f.value:.2f}", ref=f.ref)  # fmt: skip
    if topic is None:
        return f"{f.server}: {f.value:.4g} [{f.ref}]"
    label = topic.label_ko if ev.language == "ko" else topic.label_en
    text = p["is"].format(label=label, where=_where(f), ref=f.ref,
                          value=fmt_value(f.value, topic.unit, ev.language))  # fmt: skip
    base = ev.fact(f.baseline_ref) if f.baseline_ref else None
    if (
        base is not None
        and f.change is not None
        and topic.unit != "up"
        and abs(f.change - 1) >= 0.2
    ):
        text += p["usual"].format(change=f"{f.change:.1f}", bref=base.ref,
                                  base=fmt_value(base.value, topic.unit, ev.language))  # fmt: skip
    return text


def narrate(ev: Evidence) -> str:
    """The whole answer as Markdown-ish text."""
    p = PHRASES[ev.language]
    r = ev.resolution
    lines: list[str] = []
    for u in r.unknown:
        key = "unknown_server" if u.kind == "server" else "unknown_metric"
        lines.append(p[key].format(name=u.name, closest=", ".join(u.closest), n=ev.known_servers))
    for said, name in r.corrected.items():
        lines.append(p["corrected"].format(said=said, name=name))
    if not ev.facts and not r.servers and r.unknown:
        return "\n".join(lines)
    lines += _headline(ev)
    asked = [
        f
        for f in ev.facts
        if f.kind == "value" and f.server in r.servers and f not in ev.findings[:1]
    ]
    if asked:
        lines += ["", p["asked"], *(f"- {describe(f, ev)}" for f in asked)]
    others = [f for f in ev.findings[1:] if f not in asked]
    if others:
        lines += ["", p["also"], *(f"- {describe(f, ev)}" for f in others)]
    lines += _section(
        ev,
        "alert",
        "alerts",
        lambda f: p["alert"].format(
            name=f.source.split()[1],
            server=f.server,
            value=f"{f.value:.4g}",
            ref=f.ref,
            summary=f.note,
        ),
    )
    lines += _section(
        ev,
        "anomaly",
        "anomalies",
        lambda f: p["anomaly"].format(
            check=f.note.split(":")[0], server=f.server, value=f"{f.value:.4g}", ref=f.ref
        ),
    )
    lines += _section(ev, "cause", "incidents", lambda f: describe(f, ev))
    lines += _section(ev, "forecast", "forecasts", lambda f: p["forecast"].format(
        what=f.labels.get("mountpoint") or f.topic, server=f.server, hours=f"{f.value / 3600:.1f}",
        ref=f.ref))  # fmt: skip
    for psg in ev.passages:
        lines += ["", f"{p['runbook']} ({psg['source']} — {psg['title']}): {psg['quote']}"]
    if ev.facts:
        lines += ["", p["sources"], *(f"[{f.ref}] {f.source}" for f in ev.facts)]
    return "\n".join(lines)


def _headline(ev: Evidence) -> list[str]:
    p = PHRASES[ev.language]
    if not ev.findings:
        where = ", ".join(ev.resolution.servers) or p["fleet"]
        return [p["no_cause"].format(where=where)]
    top = ev.findings[0]
    asked = [s for s, deps in ev.related.items() if top.server in deps]
    if asked and top.server not in ev.resolution.servers:
        return [p["cause_dep"].format(what=describe(top, ev), server=top.server, asked=asked[0])]
    return [p["cause"].format(what=describe(top, ev))]


def _section(ev: Evidence, kind: str, title: str, line: object) -> list[str]:
    facts = [f for f in ev.facts if f.kind == kind]
    if not facts or not callable(line):
        return []
    return ["", PHRASES[ev.language][title], *(f"- {line(f)}" for f in facts)]
