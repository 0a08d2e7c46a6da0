from pyinst.cli import main

raise SystemExit(main())
