import marimo

__generated_with = "0.25.2"
app = marimo.App(width="full")


@app.cell
def _():
    import marimo as mo

    import scope_widgets as sw

    return mo, sw


@app.cell
def _(mo):
    mo.md("""
    # scope_widgets in marimo

    The same widgets as in JupyterLab: they are plain anywidget modules, so `mo.ui.anywidget` shows them.
    `sw.Scope.load()` loads the embedded default (Gemma 3 270M and its SAE), offline, on the CPU.

    Click a token to see its features, click a feature to recolour the text by it, press **steer** on a
    feature and drag its slider to see the steered generation beside the unsteered one.
    Open it with `marimo edit notebooks/marimo_explorer.py` and run all cells (the ▶ button at the bottom right),
    or as an app that runs them for you: `marimo run notebooks/marimo_explorer.py`.
    """)
    return


@app.cell
def _(sw):
    scope = sw.Scope.load()
    TEXT = "The Eiffel Tower is in Paris. It was finished in 1889 for the World's Fair."
    return TEXT, scope


@app.cell
def _(TEXT, mo, scope, sw):
    explorer = mo.ui.anywidget(sw.Explorer(scope, TEXT, max_new_tokens=24))
    explorer
    return (explorer,)


@app.cell
def _(explorer, mo):
    # reads the Explorer's traits in Python: marimo runs this cell again whenever the widget changes
    _steering = ", ".join(f"{_f}: {_c:g}" for _f, _c in explorer.steering.items())
    mo.md(
        f"Selected in Python: token {explorer.selected_token}, feature {explorer.selected_feature}, "
        f"steering {{{_steering}}}"
    )
    return


@app.cell
def _(mo):
    mo.md("""
    ## Steering on its own

    `sw.SteeringPanel` generates from a prompt with and without the features below; move a slider to
    change a feature's coefficient and the steered side generates again.
    """)
    return


@app.cell
def _(mo, scope, sw):
    PROMPT = "Once upon a time"
    panel = mo.ui.anywidget(
        sw.SteeringPanel(scope, PROMPT, features=[int(scope.features(PROMPT).top(1)[0][0])], max_new_tokens=24)
    )
    panel
    return


if __name__ == "__main__":
    app.run()
