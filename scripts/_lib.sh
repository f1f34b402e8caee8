# Shared by scripts/setup, scripts/demo and scripts/test (sourced, not run).

# The Python interpreter scope_widgets is installed into, by the rule scripts/setup documents:
# SCOPE_WIDGETS_PYTHON, else the active virtual environment, else .venv/ in the repo.
sw_python() {
  if [ -n "${SCOPE_WIDGETS_PYTHON:-}" ]; then
    command -v "$SCOPE_WIDGETS_PYTHON"
  elif [ -n "${VIRTUAL_ENV:-}" ] && [ -x "$VIRTUAL_ENV/bin/python" ]; then
    echo "$VIRTUAL_ENV/bin/python"
  else
    echo "$ROOT/.venv/bin/python"
  fi
}

# Put the interpreter's bin/ (jupyter, pytest) first on PATH.
sw_activate() {
  local py
  py="$(sw_python)"
  [ -x "$py" ] || { echo "no Python environment at $py: run scripts/setup" >&2; return 1; }
  export PATH="$(dirname "$py"):$PATH"
  SW_PY="$py"
}
