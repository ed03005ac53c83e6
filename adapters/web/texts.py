"""The sentences the web chat itself says live in texts.yaml beside this file; the
conversation's own sentences are core's (core/dialogue/texts.yaml and the flow)."""

from core.texts import Texts

say = Texts.beside(__file__).say
