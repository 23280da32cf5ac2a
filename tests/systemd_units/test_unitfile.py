"""Unit files read as systemd.syntax(7) says: comments, continuations, sections, bad lines."""

from __future__ import annotations

from cronwatch.systemd_units.unitfile import parse_unit_text


def test_unit_file_syntax() -> None:
    warnings: list[str] = []
    text = (
        "# comment\n; also a comment\n[Timer]\nOnCalendar = Mon..Fri \\\n# inside\n"
        "  09:00\n  Persistent=yes  \n[Bad\nKey=x\n[Unit]\nDescription=a=b\n"
    )
    settings = list(parse_unit_text(text, "u.timer", warnings))
    assert [(s.line, s.section, s.key, s.value) for s in settings] == [
        (4, "Timer", "OnCalendar", "Mon..Fri  09:00"),
        (7, "Timer", "Persistent", "yes"),
        (9, "", "Key", "x"),
        (11, "Unit", "Description", "a=b"),
    ]
    assert warnings == ["u.timer, line 8: bad section header '[Bad' skipped"]
