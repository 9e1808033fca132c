"""Go's value formatting (`fmt.Sprint`, `fmt.Sprintf`) for the values templates handle.

Alert annotations must read exactly as Prometheus renders them, so floats print the Go way
(`1e+06`, `+Inf`, `NaN`) and `printf` follows Go's verbs rather than Python's.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

_VERB = re.compile(r"%([-+# 0]*)(\d+|\*)?(?:\.(\d+|\*)?)?([a-zA-Z%])")


def _special(v: float) -> str | None:
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    return None


def shortest_g(v: float) -> str:
    """Go's `%v` of a float64 (strconv 'g', shortest, exponent form from 1e+06 or below 1e-04)."""
    sp = _special(v)
    if sp is not None:
        return sp
    if v == 0:
        return "-0" if math.copysign(1.0, v) < 0 else "0"
    sign, digits_t, exp = Decimal(repr(v)).as_tuple()
    digits = "".join(map(str, digits_t)).rstrip("0") or "0"
    assert isinstance(exp, int)
    dp = len(digits_t) + exp
    e = dp - 1
    neg = "-" if sign else ""
    if e < -4 or e >= 6:
        mant = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{neg}{mant}e{'-' if e < 0 else '+'}{abs(e):02d}"
    if dp <= 0:
        return f"{neg}0.{'0' * -dp}{digits}"
    if dp >= len(digits):
        return f"{neg}{digits}{'0' * (dp - len(digits))}"
    return f"{neg}{digits[:dp]}.{digits[dp:]}"


def format_float(v: float, verb: str, prec: int | None) -> str:
    """Go's %e/%f/%g of a float with an optional precision."""
    sp = _special(v)
    if sp is not None:
        return sp
    if verb in "gG" and prec is None:
        out = shortest_g(v)
        return out.upper() if verb == "G" else out
    if verb in "fF" and prec is None:
        prec = 6
    if verb in "eE" and prec is None:
        prec = 6
    if verb in "gG" and prec == 0:
        prec = 1
    return f"%.{prec}{verb}" % v


def sprint(value: Any) -> str:
    """`fmt.Sprint` of one value, as text/template prints an action's result."""
    if value is None:
        return "<no value>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return shortest_g(value)
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Mapping):
        return "map[" + " ".join(f"{sprint(k)}:{sprint(value[k])}" for k in sorted(value)) + "]"
    if isinstance(value, Sequence):
        return "[" + " ".join(sprint(v) for v in value) + "]"
    return str(value)


def _go_type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "map[string]string"
    return type(value).__name__


def _pad(text: str, flags: str, width: int | None) -> str:
    if width is None or len(text) >= width:
        return text
    if "-" in flags:
        return text.ljust(width)
    if "0" in flags and text[:1] in "+-" and text[1:2].isdigit():
        return text[0] + text[1:].rjust(width - 1, "0")
    return text.rjust(width, "0" if "0" in flags else " ")


def _one(verb: str, flags: str, prec: int | None, arg: Any) -> str:
    bad = f"%!{verb}({_go_type(arg)}={sprint(arg)})"
    if verb == "v":
        return sprint(arg)
    if verb == "T":
        return _go_type(arg)
    if verb == "t":
        return ("true" if arg else "false") if isinstance(arg, bool) else bad
    if verb == "s":
        if isinstance(arg, str):
            return arg if prec is None else arg[:prec]
        return bad if isinstance(arg, (int, float)) else sprint(arg)
    if verb == "q":
        if isinstance(arg, str):
            return json.dumps(arg, ensure_ascii=False)
        return f"'{chr(arg)}'" if isinstance(arg, int) and not isinstance(arg, bool) else bad
    if verb in "dboxXc":
        if isinstance(arg, bool) or not isinstance(arg, int):
            if verb in "xX" and isinstance(arg, str):
                h = arg.encode().hex()
                return h.upper() if verb == "X" else h
            return bad
        if verb == "c":
            return chr(arg)
        out = format(arg, {"d": "d", "b": "b", "o": "o", "x": "x", "X": "X"}[verb])
        return ("+" + out) if "+" in flags and arg >= 0 else out
    if verb in "eEfFgG":
        if isinstance(arg, bool) or not isinstance(arg, float):
            return bad
        out = format_float(arg, verb, prec)
        return ("+" + out) if "+" in flags and not out.startswith(("-", "+")) else out
    return f"%!{verb}({_go_type(arg)}={sprint(arg)})"


def sprintf(fmt: str, *args: Any) -> str:
    """`fmt.Sprintf` for the common verbs (v s q d b o x X c e f g t T %), Go's error forms."""
    out: list[str] = []
    pos, argi = 0, 0
    for m in _VERB.finditer(fmt):
        out.append(fmt[pos : m.start()])
        pos = m.end()
        flags, width_s, prec_s, verb = m.groups()
        if verb == "%":
            out.append("%")
            continue
        width = int(width_s) if width_s and width_s != "*" else None
        prec: int | None = None
        if m.group(0).find(".") >= 0:
            prec = int(prec_s) if prec_s and prec_s != "*" else 0
        if argi >= len(args):
            out.append(f"%!{verb}(MISSING)")
            continue
        arg = args[argi]
        argi += 1
        out.append(_pad(_one(verb, flags, prec, arg), flags, width))
    out.append(fmt[pos:])
    if argi < len(args):
        extra = ", ".join(f"{_go_type(a)}={sprint(a)}" for a in args[argi:])
        out.append(f"%!(EXTRA {extra})")
    return "".join(out)


def shortest_e(v: float) -> str:
    """Go's strconv.FormatFloat(v, 'e', -1, 64): `1e+00`, `8.5e+01` (how the API prints values)."""
    sp = _special(v)
    if sp is not None:
        return sp
    if v == 0:
        return ("-" if math.copysign(1.0, v) < 0 else "") + "0e+00"
    sign, digits_t, exp = Decimal(repr(v)).as_tuple()
    assert isinstance(exp, int)
    digits = "".join(map(str, digits_t)).rstrip("0") or "0"
    e = len(digits_t) + exp - 1
    mant = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    return f"{'-' if sign else ''}{mant}e{'-' if e < 0 else '+'}{abs(e):02d}"
