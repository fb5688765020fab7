"""Which image a creative shows, read from each platform's raw objects (pure mapping, no requests)."""

from __future__ import annotations

from adpilot.platforms.meta import mapping as meta
from adpilot.platforms.tiktok import mapping as tiktok
from adpilot.platforms.x import mapping as x


def test_meta_image_hash_from_the_creative_or_its_link_ad() -> None:
    assert meta.creative_image_ref({"id": "1", "image_hash": "abc"}) == "abc"
    story = {"id": "2", "object_story_spec": {"link_data": {"image_hash": "def", "link": "https://x"}}}
    assert meta.creative_image_ref(story) == "def"
    assert meta.creative_image_ref({"id": "3", "object_story_spec": {"video_data": {}}}) is None
    assert meta.creative_image_ref({"id": "4", "image_hash": ""}) is None


def test_meta_image_sources_take_the_full_image_not_the_thumbnail() -> None:
    rows = [
        {"hash": "abc", "url": "https://cdn/abc.png", "url_128": "https://cdn/abc-128.png", "name": "hero.png"},
        {"hash": "def", "permalink_url": "https://cdn/def.png"},
        {"hash": "ghi"},
        "not an object",
    ]
    assert meta.image_sources(rows) == {"abc": ("https://cdn/abc.png", "hero.png"), "def": ("https://cdn/def.png", "")}


def test_x_tweet_images_prefer_the_card_then_attached_media() -> None:
    card = {
        "id": "77",
        "components": [
            {"type": "DETAILS", "title": "Hi", "destination": {"type": "WEBSITE", "url": "https://x"}},
            {"type": "MEDIA", "media_key": "3_1", "media_metadata": {"3_1": {"url": "https://media/1.png"}}},
        ],
    }
    tweets = [
        {"id": 1, "id_str": "1", "card_uri": "card://77", "media_keys": ["3_9"]},
        {"id": 2, "id_str": "2", "card_uri": None, "media_keys": ["3_2", "3_3"]},
        {"id": 3, "id_str": "3", "card_uri": None, "media_keys": []},
        {"id": 4, "id_str": "4", "card_uri": "card://404"},
    ]
    assert x.tweet_images(tweets, [card]) == {"1": ("3_1", "https://media/1.png"), "2": ("3_2", None)}
    assert x.card_media({"id": "1", "components": [{"type": "MEDIA", "media_key": "3_5"}]}) == ("3_5", None)


def test_tiktok_first_image_of_an_ad_and_image_info_urls() -> None:
    assert tiktok.ad_image_ref({"ad_id": "1", "image_ids": ["img-1", "img-2"]}) == "img-1"
    assert tiktok.ad_image_ref({"ad_id": "2", "image_ids": []}) is None
    assert tiktok.ad_image_ref({"ad_id": "3", "video_id": "v"}) is None
    data = {
        "list": [{"image_id": "img-1", "image_url": "https://p16/img-1.jpg", "file_name": "a.jpg"}, {"image_id": "x"}]
    }
    assert tiktok.image_sources(data) == {"img-1": ("https://p16/img-1.jpg", "a.jpg")}
