"""Personal data never reaches the event stream: what mask() leaves of real messages."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.mask import mask


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("090-1234-5678に電話ください", "<電話番号>に電話ください"),
        ("０９０ー１２３４ー５６７８に電話ください", "<電話番号>に電話ください"),
        ("０９０－１２３４－５６７８です", "<電話番号>です"),
        ("電話番号は 080 1234 5678 です", "電話番号は <電話番号> です"),
        ("09012345678", "<電話番号>"),
        ("固定は03(1234)5678です", "固定は<電話番号>です"),
        ("+81 90-1234-5678 まで", "<電話番号> まで"),
        ("0120-123-456に電話した", "<電話番号>に電話した"),
        ("MNP予約番号は1234567890です", "MNP予約番号は<数字>です"),
        ("予約番号 １２３４５ ６７８９０ で", "予約番号 <数字> で"),
        ("予約番号1234-567-890", "予約番号<数字>"),
        ("認証コード 482913 が届かない", "認証コード <数字> が届かない"),
        ("taro.yamada+iij@example.co.jp に送って", "<メール> に送って"),
        ("ｔａｒｏ＠ｅｘａｍｐｌｅ．ｃｏｍ", "<メール>"),
        ("〒100-0001 東京都千代田区", "<郵便番号> 東京都千代田区"),
        ("〒１００－０００１へ送付", "<郵便番号>へ送付"),
        ("住所は100-0001です", "住所は<郵便番号>です"),
        (
            "https://www.iijmio.jp/member/?id=abc123&token=zz を開いたら",
            "<URL> を開いたら",
        ),
    ],
)
def test_personal_data_becomes_a_placeholder(text: str, expected: str) -> None:
    assert mask(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "解約したら違約金はいくら？",
        "3月20日に申し込んだ",
        "2026-11-30に解約したい",
        "1,078円って何の料金",
        "2年前に契約した",
        "https://www.iijmio.jp/ のどこに書いてある",
    ],
)
def test_ordinary_questions_keep_their_words(text: str) -> None:
    assert mask(text) == text


def test_nothing_of_the_number_survives() -> None:
    masked = mask("私の番号は０８０ ９８７６ ５４３２、予約番号は９８７６５４３２１０です")
    for fragment in ("080", "9876", "5432", "98765", "43210", "０８０"):
        assert fragment not in masked


_SEPARATORS = ["-", "ー", "－", "‐", " ", "　", "", " - "]
_FULL = str.maketrans("0123456789", "０１２３４５６７８９")


@given(
    prefix=st.sampled_from(["070", "080", "090"]),
    middle=st.text("0123456789", min_size=4, max_size=4),
    last=st.text("0123456789", min_size=4, max_size=4),
    sep=st.sampled_from(_SEPARATORS),
    full_width=st.booleans(),
    before=st.sampled_from(["", "電話番号は", "連絡先 ", "折り返し→"]),
    after=st.sampled_from(["", "です", " までお願いします", "。"]),
)
def test_any_mobile_number_in_any_width_and_spacing_is_masked(
    prefix: str, middle: str, last: str, sep: str, full_width: bool, before: str, after: str
) -> None:
    number = sep.join([prefix, middle, last])
    if full_width:
        number = number.translate(_FULL)
    masked = mask(f"{before}{number}{after}")
    assert masked == f"{before}<電話番号>{after}"


@given(
    digits=st.text("0123456789", min_size=10, max_size=10),
    split=st.sampled_from([(10,), (5, 5), (4, 3, 3), (3, 3, 4)]),
    sep=st.sampled_from(_SEPARATORS),
    full_width=st.booleans(),
)
def test_any_reservation_number_leaves_no_digits_behind(
    digits: str, split: tuple[int, ...], sep: str, full_width: bool
) -> None:
    parts, i = [], 0
    for n in split:
        parts.append(digits[i : i + n])
        i += n
    number = sep.join(parts)
    if full_width:
        number = number.translate(_FULL)
    masked = mask(f"MNP予約番号は{number}です")
    assert not any(ch.isdigit() for ch in masked), masked
