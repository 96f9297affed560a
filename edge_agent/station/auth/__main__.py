import sys

from edge_agent.station.auth.adduser import main

sys.exit(main())
