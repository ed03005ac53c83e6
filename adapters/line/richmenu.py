"""Installing the rich menu (`iijmio-bot line-richmenu`): create, upload image, set default."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from linebot.v3.messaging import (
    AsyncApiClient,
    AsyncMessagingApi,
    AsyncMessagingApiBlob,
    Configuration,
    RichMenuRequest,
)

log = logging.getLogger("iijbot.line")

DEFAULT_API = "api.line.me"
DATA_API = "api-data.line.me"  # LINE serves image uploads from a separate host
IMAGE_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}


def data_api_base_url(api_base_url: str) -> str:
    """api.line.me → api-data.line.me; any other base (a stub, a proxy) serves both."""
    parts = urlsplit(api_base_url.rstrip("/"))
    if parts.hostname == DEFAULT_API:
        return urlunsplit(parts._replace(netloc=parts.netloc.replace(DEFAULT_API, DATA_API)))
    return api_base_url.rstrip("/")


async def setup_rich_menu(
    access_token: str, api_base_url: str, definition_path: str | Path, image_path: str | Path
) -> str:
    """Create the rich menu from its JSON definition, upload its image, make it the
    default for every user; returns the new rich menu id. The previous default stays
    on LINE until deleted (so a failed upload never leaves users without a menu)."""
    definition = RichMenuRequest.from_dict(json.loads(Path(definition_path).read_text("utf-8")))
    image = Path(image_path)
    content_type = IMAGE_TYPES.get(image.suffix.lower())
    if content_type is None:
        raise ValueError(f"rich menu image must be PNG or JPEG, got {image.name}")
    image_bytes = image.read_bytes()

    api_config = Configuration(access_token=access_token, host=api_base_url.rstrip("/"))
    data_config = Configuration(access_token=access_token, host=data_api_base_url(api_base_url))
    async with AsyncApiClient(api_config) as api_client, AsyncApiClient(data_config) as data_client:
        api = AsyncMessagingApi(api_client)
        blob = AsyncMessagingApiBlob(data_client)
        await api.validate_rich_menu_object(definition)
        created = await api.create_rich_menu(definition)
        menu_id = str(created.rich_menu_id)
        await blob.set_rich_menu_image(
            menu_id, body=image_bytes, _headers={"Content-Type": content_type}
        )
        await api.set_default_rich_menu(menu_id)
    log.info("line: rich menu %s installed as default", menu_id)
    return menu_id
