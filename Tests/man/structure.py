#!/usr/bin/env python3
"""libpolyai_handoff(3) against include/polyai_handoff.h.

  structure.py HEADER PAGE      (PAGE plain or .gz)

- Its SYNOPSIS declares exactly the functions the header declares, each with
  the header's prototype (return type, name, parameters).
- STATUS CODES lists every handoff_status constant with its value.
- CONFIGURATION KEYS lists exactly the keys of the header's "Configuration
  keys" comment.
Prints what differs; exits 1 if anything does.
"""
import gzip
import re
import subprocess
import sys

header_path, page_path = sys.argv[1], sys.argv[2]
header = open(header_path, encoding="utf-8").read()
opener = gzip.open if page_path.endswith(".gz") else open
with opener(page_path, "rt", encoding="utf-8") as f:
    page = f.read()
problems = []


def norm(text):
    """One spelling of a C declaration: single spaces, none inside '*' runs."""
    text = " ".join(text.split())
    text = re.sub(r"\s*\*\s*", " *", text)
    return text.strip()


# The header's prototypes: declarations outside comments.
code = re.sub(r"/\*.*?\*/", " ", header, flags=re.S)
declared = {}
for m in re.finditer(r"^([a-z][^;{}#()]*?\b(handoff_\w+))\s*\(([^;()]*)\)\s*;", code, flags=re.M):
    ret_and_name, name, params = m.group(1), m.group(2), m.group(3)
    ret = ret_and_name[: ret_and_name.rindex(name)]
    declared[name] = (norm(ret), [norm(p) for p in params.split(",")])
if len(declared) < 50:
    problems.append(f"found only {len(declared)} functions in {header_path}: the parse is broken")

# The page's SYNOPSIS: .Ft TYPE then .Fn NAME "PARAM" ...
synopsis = re.search(r"^\.Sh SYNOPSIS\n(.*?)^\.Sh ", page, flags=re.M | re.S)
listed = {}
if synopsis is None:
    problems.append("no SYNOPSIS")
else:
    lines = synopsis.group(1).splitlines()
    for i, line in enumerate(lines):
        if line.startswith(".Fn "):
            fn = re.match(r"\.Fn (\S+)(.*)", line)
            params = re.findall(r'"([^"]*)"|(\S+)', fn.group(2))
            ret = lines[i - 1][len(".Ft "):] if i > 0 and lines[i - 1].startswith(".Ft ") else "?"
            listed[fn.group(1)] = (norm(ret), [norm(a or b) for a, b in params])
for name in sorted(declared.keys() - listed.keys()):
    problems.append(f"SYNOPSIS lacks {name}")
for name in sorted(listed.keys() - declared.keys()):
    problems.append(f"SYNOPSIS has {name}, which the header does not declare")
for name in sorted(declared.keys() & listed.keys()):
    if declared[name] != listed[name]:
        problems.append(f"SYNOPSIS {name}: {listed[name]}, header: {declared[name]}")

# The rendered page, for the lists below.
text = subprocess.run(["groff", "-mandoc", "-Tascii", "-P-cbu", "-rLL=30000n"],
                      input=page, capture_output=True, text=True, check=True).stdout


def section(title):
    m = re.search(rf"^{re.escape(title)}\n(.*?)^(?=[A-Z])", text, flags=re.M | re.S)
    if m is None:
        problems.append(f"no section {title}")
        return ""
    return m.group(1)


# Statuses: the enum in order, 0 upward; each "N HANDOFF_X (name)".
enum = re.search(r"typedef enum \{(.*?)\} handoff_status;", code, flags=re.S)
statuses = re.findall(r"\b(HANDOFF_[A-Z_]+)\b", enum.group(1)) if enum else []
if len(statuses) < 13:
    problems.append(f"found only {len(statuses)} statuses in the header")
codes = section("STATUS CODES")
for value, constant in enumerate(statuses):
    name = constant[len("HANDOFF_"):].lower()
    if not re.search(rf"^     {value} {constant} \({name}\)$", codes, flags=re.M):
        problems.append(f"STATUS CODES lacks {value} {constant} ({name})")

# Configuration keys: the header's list, one key per line at the first indent.
block = re.search(r"\* Configuration keys\.(.*?)\* Unknown keys and invalid values", header, flags=re.S)
keys = set(re.findall(r"^ \*   ([a-z_.<>]+)\s", block.group(1), flags=re.M)) if block else set()
keys = {k.replace("<", "").replace(">", "") for k in keys}  # rename.<key> renders rename.key
if len(keys) < 30:
    problems.append(f"found only {len(keys)} configuration keys in the header")
config = section("CONFIGURATION KEYS")
heads = set(re.findall(r"^     ([a-z_.]+)(?:  |$)", config, flags=re.M))
for key in sorted(keys - heads):
    problems.append(f"CONFIGURATION KEYS lacks {key}")
for key in sorted(heads - keys):
    problems.append(f"CONFIGURATION KEYS has {key}, which the header does not document")

for problem in problems:
    print(f"  {page_path}: {problem}")
sys.exit(1 if problems else 0)
