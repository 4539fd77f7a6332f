"""The Soft Binding Resolution API on a bare FastAPI app, over the store named by
``TRUSTGEN_TEST_STORE`` (``uvicorn --factory sbr_app:make_app``)."""

import os


def make_app():
    from fastapi import FastAPI

    from trustgen.store import open_store
    from trustgen.store.api import router

    app = FastAPI()
    app.include_router(router(open_store(os.environ["TRUSTGEN_TEST_STORE"])))
    return app
