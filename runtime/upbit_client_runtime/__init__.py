"""Plain Python that the generated client ships with, kept here as source.

``tools/generate.py`` copies ``sdk_errors.py``, ``rules.py`` and ``fast_request.py`` into
``generated/upbit_client/`` (with the generated-file header); the generator's templates only import
them. Here they are linted, type-checked and tested like any other module. Only relative imports
between these three modules, so the copies work unchanged inside ``upbit_client``.
"""
