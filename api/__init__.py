"""HTTP interface: the native REST API and Open311, over the domain core."""
