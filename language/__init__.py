"""What the patient reads and hears, in each language: the cue texts and count-out words of
``assets/lang/<lang>.toml``. The exercises name cue keys, the session shows them, the speech
build renders them, the screens draw them; none of them owns the words."""

from language.texts import LANG_DIR, catalog, cue_text

__all__ = ["LANG_DIR", "catalog", "cue_text"]
