"""``python -m scope_widgets.analysis``: compute dashboards (the default SAE's with ``--default``)."""
from .default_build import main

if __name__ == "__main__":
    main()
