#!/usr/bin/env python3
"""Write expected.tsv: the expected outcome of every message line of samples-public.txt.

This is a second implementation of the HJ 212 rules, independent of the Rust
codec, so that the codec's tests compare against values computed another way.
Run it from this folder: python3 make_expected.py > expected.tsv
"""

import re
import sys

SAMPLES = "samples-public.txt"
MAX_SEGMENT_LEN = 4096
UPLOAD_COMMANDS = {2011, 2051, 2061, 2031}
VALUE_SUFFIXES = {"Rtd", "Avg", "Data", "Min", "Max", "Cou"}


def crc_hj212(data: bytes) -> int:
    """HJ 212-2017 Appendix A, bit by bit as the standard's C code."""
    register = 0xFFFF
    for byte in data:
        register = (register >> 8) ^ byte
        for _ in range(8):
            carry = register & 1
            register >>= 1
            if carry:
                register ^= 0xA001
    return register


def crc_modbus(data: bytes) -> int:
    """CRC-16/MODBUS."""
    register = 0xFFFF
    for byte in data:
        register ^= byte
        for _ in range(8):
            carry = register & 1
            register >>= 1
            if carry:
                register ^= 0xA001
    return register


def message_lines(path):
    with open(path, "rb") as samples:
        for number, line in enumerate(samples.read().split(b"\n"), start=1):
            if line and not line.startswith(b"# "):
                yield number, line


def frame_outcome(line: bytes):
    """Return (outcome, crc variant that verifies or '-', segment bytes or None)."""
    header = re.match(rb"##(\d{4})", line)
    if not header:
        return "bad_header", "-", None
    declared = int(header.group(1))
    if declared > MAX_SEGMENT_LEN:
        return "too_long", "-", None
    if len(line) != 6 + declared + 4:
        return "length_mismatch", "-", None
    segment = line[6 : 6 + declared]
    digits = line[6 + declared :]
    if not re.fullmatch(rb"[0-9A-Fa-f]{4}", digits):
        return "bad_crc_digits", "-", None
    received = int(digits, 16)
    if crc_hj212(segment) == received:
        return "ok", "hj212", segment
    modbus = crc_modbus(segment)
    if ((modbus & 0xFF) << 8 | modbus >> 8) == received:
        return "crc_mismatch", "modbus_le", segment
    return "crc_mismatch", "-", None


def split_items(data_area: str):
    """Yield (key, value) or (text, None) for pieces without '='."""
    position = 0
    while position < len(data_area):
        match = re.compile(r"[;,=]").search(data_area, position)
        if match is None or match.group() != "=":
            end = match.start() if match else len(data_area)
            text = data_area[position:end].strip()
            if text:
                yield text, None
            position = end + 1
            continue
        key = data_area[position : match.start()].strip()
        value_start = match.end()
        scan = value_start
        lead = len(data_area[value_start:]) - len(data_area[value_start:].lstrip(" "))
        if data_area.startswith("//", value_start + lead):
            close = data_area.find("//", value_start + lead + 2)
            if close >= 0:
                scan = close + 2
        end_match = re.compile(r"[;,]").search(data_area, scan)
        end = end_match.start() if end_match else len(data_area)
        yield key, data_area[value_start:end].strip()
        position = end + 1


def factor_groups(data_area: str):
    """Group adjacent CODE-Suffix items by code; return [(code, {suffix: value}, bad)]."""
    groups = []
    previous_code = None
    for key, value in split_items(data_area):
        if value is None:
            groups.append((None, {}, True))
            previous_code = None
            continue
        if "-" not in key:
            previous_code = None
            continue
        code, suffix = key.split("-", 1)
        if code != previous_code:
            groups.append((code, {}, False))
            previous_code = code
        _, suffixes, _ = groups[-1]
        suffixes.setdefault(suffix, []).append(value)
    return groups


def is_number(text: str) -> bool:
    try:
        number = float(text)
    except ValueError:
        return False
    return number == number and abs(number) != float("inf") and any(c.isdigit() for c in text)


def count_readings(cn: int, mn: str, data_area: str, groups) -> int:
    if cn not in UPLOAD_COMMANDS or not re.fullmatch(r"[!-~]{1,64}", mn or ""):
        return 0
    if re.search(r"[ ;=,&]", mn):
        return 0
    times = [value for key, value in split_items(data_area) if key == "DataTime"]
    if not times or not re.fullmatch(r"\d{14}|\d{17}", times[0]):
        return 0
    seen = set()
    readings = 0
    for code, suffixes, bad in groups:
        if bad or not any(suffix in VALUE_SUFFIXES for suffix in suffixes):
            continue
        duplicate_key = any(len(values) > 1 for s, values in suffixes.items() if s in VALUE_SUFFIXES | {"Flag"})
        numbers_ok = all(is_number(values[0]) for s, values in suffixes.items() if s in VALUE_SUFFIXES)
        flag_ok = all(re.fullmatch(r"[A-Za-z]", values[0]) for s, values in suffixes.items() if s == "Flag")
        code_ok = re.fullmatch(r"[!-~]{1,32}", code) and not re.search(r"[;=,&-]", code)
        if duplicate_key or not numbers_ok or not flag_ok or not code_ok or code in seen:
            continue
        seen.add(code)
        readings += 1
    return readings


def parse_segment(segment: str):
    """Return (outcome, mn, cn, factors, readings) for a data segment."""
    cp_at = segment.find("CP=")
    if cp_at < 0:
        return "missing_cp", "-", "-", "-", "-"
    after = segment[cp_at + 3 :].lstrip(" ")
    if not after.startswith("&&"):
        return "bad_cp", "-", "-", "-", "-"
    body = after[2:]
    close = body.rfind("&&")
    if close < 0:
        return "unterminated_cp", "-", "-", "-", "-"
    if body[close + 2 :].strip():
        return "trailing_text", "-", "-", "-", "-"
    fields = {}
    for piece in re.split(r"[;,]", segment[:cp_at]):
        piece = piece.strip()
        if piece:
            name, value = piece.split("=", 1)
            fields[name.strip()] = value.strip()
    data_area = body[:close]
    groups = factor_groups(data_area)
    cn = int(fields["CN"])
    mn = fields["MN"]
    return "ok", mn, cn, len(groups), count_readings(cn, mn, data_area, groups)


def main():
    out = sys.stdout
    out.write("line\toutcome\tcrc\tmn\tcn\tfactors\treadings\n")
    for number, line in message_lines(SAMPLES):
        # A TCP fragment cut before its CRC: a header, but no 4 hex digits at the end.
        if line.startswith(b"##") and not re.fullmatch(rb"[0-9A-Fa-f]{4}", line[-4:]):
            out.write(f"{number}\tfragment\t-\t-\t-\t-\t-\n")
            continue
        if not line.startswith(b"##"):
            if not line.startswith(b"QN=") and not line.startswith(b"ST="):
                out.write(f"{number}\tfragment\t-\t-\t-\t-\t-\n")
                continue
            _, mn, cn, factors, readings = parse_segment(line.decode("utf-8"))
            out.write(f"{number}\tsegment\t-\t{mn}\t{cn}\t{factors}\t{readings}\n")
            continue
        outcome, variant, segment = frame_outcome(line)
        if segment is None:
            out.write(f"{number}\t{outcome}\t{variant}\t-\t-\t-\t-\n")
            continue
        parsed, mn, cn, factors, readings = parse_segment(segment.decode("utf-8"))
        if outcome == "ok":
            outcome = parsed
        out.write(f"{number}\t{outcome}\t{variant}\t{mn}\t{cn}\t{factors}\t{readings}\n")


if __name__ == "__main__":
    main()
