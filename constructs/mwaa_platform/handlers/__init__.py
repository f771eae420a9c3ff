"""Lambda handlers the constructs ship as assets. Each subfolder is one function's code."""
