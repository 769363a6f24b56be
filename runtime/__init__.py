"""What runs: the composition roots, which alone may import the API, the pages and the flows
together. ``runtime.asgi`` is the application uvicorn serves (the API, then the pages);
``runtime.serve`` is ``reflections serve``, the embedded default's processes on one machine."""
