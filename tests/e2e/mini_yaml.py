"""A small YAML subset loader for the manifests under examples/ (stdlib has no YAML parser).

Supports what Kubernetes manifests use: `---` documents, comments, block mappings and sequences
(including `- key: value` items), plain/single/double-quoted scalars, `|`/`>` block scalars,
empty flow collections `[]`/`{}` and simple one-line flow sequences/mappings of scalars.
Anything else raises ValueError with the line number rather than guessing.
"""

import json
import re

_INT = re.compile(r"^[-+]?[0-9]+$")
_FLOAT = re.compile(r"^[-+]?([0-9]+\.[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$")


def load_all(text):
    """All non-empty documents of a YAML stream, as Python objects."""
    docs, cur = [], []
    for line in text.splitlines():
        if re.match(r"^---\s*(#.*)?$", line) or line.strip() == "...":
            docs.append(cur)
            cur = []
        else:
            cur.append(line)
    docs.append(cur)
    out = []
    for lines in docs:
        obj = _Parser(lines).parse()
        if obj is not None:
            out.append(obj)
    return out


def _strip_comment(s):
    """Removes a trailing ` # comment` outside quotes."""
    quote = None
    for i, ch in enumerate(s):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"" and (i == 0 or s[i - 1] in " :-[{,"):
            quote = ch
        elif ch == "#" and (i == 0 or s[i - 1] in " \t"):
            return s[:i].rstrip()
    return s.rstrip()


def scalar(tok):
    tok = tok.strip()
    if tok == "" or tok in ("~", "null", "Null", "NULL"):
        return None
    if tok[0] == '"':
        return json.loads(tok)
    if tok[0] == "'":
        return tok[1:-1].replace("''", "'")
    if tok in ("true", "True", "TRUE"):
        return True
    if tok in ("false", "False", "FALSE"):
        return False
    if _INT.match(tok):
        return int(tok)
    if _FLOAT.match(tok):
        return float(tok)
    if tok == "[]":
        return []
    if tok == "{}":
        return {}
    if tok[0] == "[" and tok[-1] == "]":
        return [scalar(x) for x in _split_flow(tok[1:-1])]
    if tok[0] == "{" and tok[-1] == "}":
        return dict(_flow_pair(x) for x in _split_flow(tok[1:-1]))
    return tok


def _split_flow(body):
    parts, cur, quote = [], "", None
    for ch in body:
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "[]{}":
            raise ValueError("nested flow collections are not supported: %r" % body)
        elif ch == ",":
            parts.append(cur)
            cur = ""
            continue
        cur += ch
    if cur.strip():
        parts.append(cur)
    return parts


def _flow_pair(item):
    key, sep, value = item.partition(":")
    if not sep:
        raise ValueError("bad flow mapping item %r" % item)
    return scalar(key), scalar(value)


_KEY = re.compile(r"""^("(?:[^"\\]|\\.)*"|'[^']*'|[^\s#'"][^:#]*?)\s*:(\s+|$)(.*)$""")


class _Parser:
    def __init__(self, lines):
        self.lines = []  # (line number, indent, content) without blank/comment-only lines
        self.raw = lines
        for no, line in enumerate(lines):
            if "\t" in line[: len(line) - len(line.lstrip())]:
                raise ValueError("line %d: tab indentation" % (no + 1))
            content = _strip_comment(line)
            if content.strip():
                self.lines.append((no, len(line) - len(line.lstrip(" ")), content.strip()))
        self.i = 0

    def parse(self):
        if not self.lines:
            return None
        value = self.node(self.lines[0][1])
        if self.i != len(self.lines):
            raise ValueError("line %d: unexpected content" % (self.lines[self.i][0] + 1))
        return value

    def node(self, indent):
        _, ind, content = self.lines[self.i]
        if ind != indent:
            raise ValueError("line %d: bad indentation" % (self.lines[self.i][0] + 1))
        if content == "-" or content.startswith("- "):
            return self.sequence(indent)
        return self.mapping(indent)

    def sequence(self, indent):
        out = []
        while self.i < len(self.lines):
            no, ind, content = self.lines[self.i]
            if ind < indent or not (content == "-" or content.startswith("- ")):
                if ind > indent:
                    raise ValueError("line %d: bad indentation" % (no + 1))
                break
            rest = content[1:].lstrip()
            if not rest:
                self.i += 1
                out.append(self.child(indent))
                continue
            # `- key: value` starts a mapping whose indent is the column after "- ".
            sub = ind + (len(content) - len(rest))
            if _KEY.match(rest):
                self.lines[self.i] = (no, sub, rest)
                out.append(self.mapping(sub))
            else:
                self.i += 1
                out.append(scalar(rest))
        return out

    def mapping(self, indent):
        out = {}
        while self.i < len(self.lines):
            no, ind, content = self.lines[self.i]
            if ind < indent:
                break
            if ind > indent:
                raise ValueError("line %d: bad indentation" % (no + 1))
            if content.startswith("- "):
                break
            m = _KEY.match(content)
            if not m:
                raise ValueError("line %d: expected `key: value`" % (no + 1))
            key, value = scalar(m.group(1)), m.group(3).strip()
            self.i += 1
            if value in ("|", "|-", "|+", ">", ">-", ">+"):
                out[key] = self.block_scalar(no, indent, value)
            elif value:
                out[key] = scalar(value)
            else:
                out[key] = self.child(indent, allow_same_seq=True)
        return out

    def child(self, indent, allow_same_seq=False):
        if self.i >= len(self.lines):
            return None
        _, ind, content = self.lines[self.i]
        if ind > indent or (allow_same_seq and ind == indent and content.startswith("-")):
            return self.node(ind)
        return None

    def block_scalar(self, key_line, indent, style):
        body, first = [], self.i
        # Block scalars keep raw lines (comments inside them are content).
        raw_start = key_line + 1
        raw_end = raw_start
        while raw_end < len(self.raw):
            line = self.raw[raw_end]
            if line.strip() and len(line) - len(line.lstrip(" ")) <= indent:
                break
            raw_end += 1
        block = self.raw[raw_start:raw_end]
        while first < len(self.lines) and self.lines[first][0] < raw_end:
            first += 1
        self.i = first
        texts = [b for b in block if b.strip()]
        cut = min((len(b) - len(b.lstrip(" ")) for b in texts), default=0)
        body = [b[cut:] for b in block]
        while body and not body[-1].strip():
            body.pop()
        text = ("\n" if style[0] == "|" else " ").join(body)
        return text if style.endswith("-") else text + "\n"
