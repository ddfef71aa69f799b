from tekton_debug.cli.main import main

raise SystemExit(main())
