"""Route handlers, one module per section of the API: parse, call one service, render."""
