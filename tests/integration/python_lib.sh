# python_lib.sh: the Python interpreters the Python tests run under (sourced after lib.sh).
# PYTHONS lists "LABEL PATH" pairs: Debian's python3 (3.11, static libpython, stripped) and every
# pyenv build 3.8-3.13 of the machine image. A missing interpreter is skipped with the reason.

PYENV_ROOT_DIR=${PYENV_ROOT:-/root/.pyenv}
PYTHONS=()
if [ -x /usr/bin/python3 ]; then
	PYTHONS+=("debian-$(/usr/bin/python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])') /usr/bin/python3")
else
	echo "skip: Debian's /usr/bin/python3 is not installed"
fi
for minor in 8 9 10 11 12 13; do
	found=""
	for d in "$PYENV_ROOT_DIR"/versions/3."$minor".*; do
		[ -x "$d/bin/python3" ] && found="$d/bin/python3"
	done
	if [ -n "$found" ]; then
		PYTHONS+=("3.$minor $found")
	else
		echo "skip: Python 3.$minor: no pyenv build under $PYENV_ROOT_DIR/versions"
	fi
done

# line_of FILE TEXT: the number of the first line of FILE containing TEXT (literally).
line_of() {
	grep -nF -- "$2" "$1" | head -1 | cut -d: -f1
}

# tid_block FILE TID: the dump block of thread TID (header line included).
tid_block() {
	awk -v tid="$2" '/^Thread / { inblock = ($2 == tid) } inblock' "$1"
}
