# Print each JSON object found at nesting depth `depth` (awk -v depth=N;
# the document's own braces and brackets count, so a member of
# {"groups":[{"members":[{...}]}]} is at depth 4), one a line.  Reads the
# document on one line (strip newlines first).  Strings, escapes included,
# are skipped over, so braces inside them do not count.
{
	d = 0; q = 0; s = ""
	for (i = 1; i <= length($0); i++) {
		c = substr($0, i, 1)
		if (q) {
			if (c == "\\") { s = s c; i++; c = substr($0, i, 1) }
			else if (c == "\"") q = 0
		} else if (c == "\"") q = 1
		else if (c == "{" || c == "[") d++
		else if (c == "}" || c == "]") d--
		if (d > depth || (d == depth && c == "}")) s = s c
		if (d == depth && c == "}") { print s; s = "" }
	}
}
