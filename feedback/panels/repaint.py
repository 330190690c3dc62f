"""Drawing only what changed: each region of a view has a key, the values it is drawn from;
a region whose key is the one it was last drawn with keeps its pixels.

The window's surface keeps its pixels from one display frame to the next, so a region left
alone still shows what it showed, and only the changed regions need presenting to the
screen (``pygame.display.update(rects)``), which on a real display costs far less than the
whole window.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable

import pygame


class Same:
    """Part of a key that compares by identity: a camera image or the landmarks of a pose
    are new arrays when they change, and comparing their contents would cost more than
    drawing them. Holds the object, so its identity cannot pass to another."""

    __slots__ = ("obj",)

    def __init__(self, obj: object) -> None:
        self.obj = obj

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Same) and other.obj is self.obj

    def __hash__(self) -> int:
        return id(self.obj)


def number(x: float) -> float | None:
    """A float for a key: NaN (which equals nothing, itself included) as None."""
    return None if math.isnan(x) else x


# A key that is never the one a region was drawn with: redrawn every frame (an animation).
ALWAYS = object()


class Repaint:
    """One view's record of what its regions were last drawn from, on which surface.

    ``begin`` says whether the whole surface must be drawn (another surface, another
    arrangement of regions, or the caller asked); ``region`` draws one region if its key
    changed, clipped to its rectangle over its part of the static layer; ``end`` returns the
    rectangles to present."""

    def __init__(self) -> None:
        self._surface: pygame.Surface | None = None
        self._arrangement: Hashable = None
        self._keys: dict[str, object] = {}
        self._whole = True
        self._dirty: list[pygame.Rect] = []
        self._seen: set[str] = set()

    def forget(self) -> None:
        self._surface, self._arrangement, self._keys = None, None, {}

    def begin(
        self,
        surface: pygame.Surface,
        static: pygame.Surface,
        arrangement: Hashable,
        whole: bool,
    ) -> bool:
        whole = whole or surface is not self._surface or arrangement != self._arrangement
        if whole:
            surface.blit(static, (0, 0))
            self._keys = {}
        self._surface, self._arrangement = surface, arrangement
        self._static = static
        self._whole = whole
        self._dirty = []
        self._seen = set()
        return whole

    def region(
        self,
        name: str,
        rect: pygame.Rect,
        key: object,
        draw: Callable[[], object],
    ) -> bool:
        """Draw the region ``name`` if ``key`` differs from the one it was drawn with."""
        self._seen.add(name)
        if not self._whole and key is not ALWAYS and self._keys.get(name, ALWAYS) == key:
            return False
        surface = self._surface
        assert surface is not None, "Repaint.region before begin"
        if not self._whole:
            surface.blit(self._static, rect, rect)
        clip = surface.get_clip()
        surface.set_clip(rect)
        try:
            draw()
        finally:
            surface.set_clip(clip)
        self._keys[name] = key
        self._dirty.append(rect.copy())
        return True

    @property
    def changed(self) -> bool:
        """Whether anything was drawn since ``begin``."""
        return self._whole or bool(self._dirty)

    def over(self, name: str, key: object, rects: list[pygame.Rect], draw: Callable[[], object]):
        """Something opaque drawn over the regions (the safety stop): again whenever a region
        under it was drawn or its own key changed. Its ``rects`` are presented only when its
        key changed: drawn again from the same key over unchanged pixels it changes none, and
        the regions redrawn under it are presented anyway."""
        self._seen.add(name)
        changed = self._keys.get(name, ALWAYS) != key
        if self._whole or self._dirty or changed:
            draw()
            self._keys[name] = key
            if changed and not self._whole:
                self._dirty.extend(rects)

    def end(self) -> list[pygame.Rect]:
        # A region not shown this frame was drawn over: when it shows again, it is drawn.
        self._keys = {name: key for name, key in self._keys.items() if name in self._seen}
        if self._whole and self._surface is not None:
            return [self._surface.get_rect()]
        return self._dirty
