"""Vectorised procedural face renderer: B faces at once on (B, H, W) grids, plain NumPy.

Every part of a face is a soft mask computed from per-pixel coordinates in the *face frame*: origin at the
face centre, y pointing down, 1 unit = half the face height, x mirrored (|x|) for the paired parts (eyes,
brows, ears, mouth halves). Pixels map to the face frame by a similarity transform (centre, scale, roll)
and a yaw warp that turns the face like a cylinder (features slide sideways, the outline narrows). Masks
get soft edges one pixel wide, so the faces are anti-aliased at any size from 32 to 224 px; widening every edge
renders a defocus blur at no cost.

Expressions enter through 12 facial action units (intensities in [0, 1], order `AU_NAMES`) that move the
brows, lids, cheeks, nose and mouth; nuisance (pose, lighting, clutter, blur, noise, occluders) comes from
a `Scenes` batch. Identity, pose and scene are sampled here; expressions and labels in `synthfer`.
"""
from __future__ import annotations

from dataclasses import dataclass, fields, replace

import numpy as np

AU_NAMES = ("AU1", "AU2", "AU4", "AU5", "AU6", "AU9", "AU12", "AU15", "AU20", "AU24", "AU25", "AU26")
AU_DESCRIPTIONS = ("inner brow raiser", "outer brow raiser", "brow lowerer", "upper lid raiser", "cheek raiser",
                   "nose wrinkler", "lip corner puller", "lip corner depressor", "lip stretcher", "lip pressor",
                   "lips part", "jaw drop")
AU1, AU2, AU4, AU5, AU6, AU9, AU12, AU15, AU20, AU24, AU25, AU26 = range(12)

# Landmarks as (x, y) pixels; "left" / "right" are sides of the image (the subject's right eye is eye_left).
LANDMARK_NAMES = ("eye_left", "eye_right", "brow_left", "brow_right", "nose_tip", "mouth_left", "mouth_right",
                  "mouth_centre", "lip_top", "lip_bottom", "chin")
HAIR_STYLES = ("short", "long", "fringe", "bald")
OCCLUDERS = ("none", "bar", "hand")

_SKIN_TONES = np.array([[0.98, 0.84, 0.74], [0.90, 0.70, 0.56], [0.74, 0.53, 0.38], [0.55, 0.37, 0.25],
                        [0.36, 0.24, 0.17]], dtype=np.float32)
_HAIR_COLOURS = np.array([[0.08, 0.07, 0.06], [0.25, 0.16, 0.10], [0.45, 0.30, 0.17], [0.80, 0.65, 0.40],
                          [0.55, 0.25, 0.12], [0.62, 0.62, 0.62]], dtype=np.float32)
_IRIS_COLOURS = np.array([[0.30, 0.18, 0.10], [0.15, 0.10, 0.07], [0.25, 0.45, 0.70], [0.30, 0.50, 0.30],
                          [0.50, 0.40, 0.20]], dtype=np.float32)


@dataclass
class ArrayBatch:
    """Arrays whose first dim is the batch; `take` slices them all alike."""

    def take(self, indices: np.ndarray) -> "ArrayBatch":
        return type(self)(**{f.name: getattr(self, f.name)[indices] for f in fields(self)})

    def __len__(self) -> int:
        return len(getattr(self, fields(self)[0].name))


@dataclass
class Appearance(ArrayBatch):
    """What an identity looks like (face-frame units; colours RGB in [0, 1]); arrays (N,) or (N, 3)."""

    face_width: np.ndarray      # half-width of the face ellipse (half-height is 1)
    jaw_taper: np.ndarray       # how much the lower face narrows towards the chin
    skin: np.ndarray
    blush: np.ndarray           # resting cheek redness
    eye_x: np.ndarray           # distance of each eye centre from the midline
    eye_y: np.ndarray
    eye_width: np.ndarray       # half-width of an eye
    eye_height: np.ndarray      # upper-lid opening at rest
    iris: np.ndarray
    brow_gap: np.ndarray        # eye centre to brow at rest
    brow_thickness: np.ndarray
    brow_arch: np.ndarray
    nose_y: np.ndarray
    nose_width: np.ndarray
    mouth_y: np.ndarray
    mouth_width: np.ndarray     # half-width at rest
    lip_thickness: np.ndarray
    lip: np.ndarray
    hair_style: np.ndarray      # index into HAIR_STYLES
    hair: np.ndarray
    hairline: np.ndarray        # y of the hairline on the midline
    hair_volume: np.ndarray
    glasses: np.ndarray         # 1.0 wears glasses, 0.0 not
    frame_colour: np.ndarray


@dataclass
class Scenes(ArrayBatch):
    """Pose and nuisance of each image; positions are fractions of the image side."""

    centre: np.ndarray            # (N, 2) face centre x, y
    scale: np.ndarray             # (N,) face half-height / image side
    roll: np.ndarray              # (N,) in-plane rotation, radians
    yaw: np.ndarray               # (N,) head turn, radians
    light: np.ndarray             # (N, 2) image-wide brightness gradient
    face_light: np.ndarray        # (N, 3) light direction on the face (x, y, strength)
    background: np.ndarray        # (N, 2, 3) two colours of the background gradient
    background_dir: np.ndarray    # (N, 2)
    stripes: np.ndarray           # (N, 3) frequency, angle, phase of a wave mixing the two background colours
    rectangle: np.ndarray         # (N, 4) clutter rectangle: centre x, y, half-width, half-height
    disc: np.ndarray              # (N, 3) clutter disc: centre x, y, radius
    clutter_colour: np.ndarray    # (N, 2, 3) colours of the rectangle and the disc
    clutter_opacity: np.ndarray   # (N, 3) opacities of the stripes, the rectangle and the disc (0 = absent)
    clothes: np.ndarray           # (N, 3)
    white_balance: np.ndarray     # (N, 3) per-channel gain
    occluder: np.ndarray          # (N,) index into OCCLUDERS
    occluder_pose: np.ndarray     # (N, 4) face-frame x, y, angle, size
    occluder_colour: np.ndarray   # (N, 3)
    blur: np.ndarray              # (N,) defocus: extra pixels of softness on every edge (0 = sharp)
    noise: np.ndarray             # (N,) pixel noise std


def sample_appearance(rng: np.random.Generator, n: int) -> Appearance:
    """`n` random identities."""
    def u(low: float, high: float) -> np.ndarray:
        return rng.uniform(low, high, n).astype(np.float32)

    tone = rng.uniform(0, len(_SKIN_TONES) - 1, n)
    low = np.floor(tone).astype(int).clip(0, len(_SKIN_TONES) - 2)
    skin = _SKIN_TONES[low] + (tone - low)[:, None].astype(np.float32) * (_SKIN_TONES[low + 1] - _SKIN_TONES[low])
    hair = _HAIR_COLOURS[rng.integers(0, len(_HAIR_COLOURS), n)] * u(0.8, 1.2)[:, None]
    lip = skin * np.array([0.80, 0.50, 0.50], np.float32) + rng.uniform(-0.04, 0.04, (n, 3)).astype(np.float32)
    return Appearance(
        face_width=u(0.64, 0.78), jaw_taper=u(0.10, 0.45), skin=skin.astype(np.float32), blush=u(0.0, 0.35),
        eye_x=u(0.25, 0.32), eye_y=u(-0.15, -0.05), eye_width=u(0.11, 0.15), eye_height=u(0.05, 0.075),
        iris=_IRIS_COLOURS[rng.integers(0, len(_IRIS_COLOURS), n)],
        brow_gap=u(0.15, 0.21), brow_thickness=u(0.028, 0.05), brow_arch=u(0.0, 0.05),
        nose_y=u(0.17, 0.27), nose_width=u(0.08, 0.12), mouth_y=u(0.47, 0.56), mouth_width=u(0.17, 0.23),
        lip_thickness=u(0.03, 0.05), lip=lip.clip(0, 1).astype(np.float32),
        hair_style=rng.choice(len(HAIR_STYLES), n, p=[0.4, 0.3, 0.2, 0.1]), hair=hair.clip(0, 1),
        hairline=u(-0.72, -0.50), hair_volume=u(0.03, 0.16),
        glasses=(rng.random(n) < 0.2).astype(np.float32), frame_colour=rng.uniform(0, 0.6, (n, 3)).astype(np.float32))


def sample_scenes(rng: np.random.Generator, n: int, occlusion_rate: float = 0.1) -> Scenes:
    """`n` random poses, lightings, backgrounds and degradations (an occluder with `occlusion_rate`)."""
    def u(low: float | list[float], high: float | list[float], *shape: int) -> np.ndarray:
        return rng.uniform(low, high, (n, *shape)).astype(np.float32)

    occluded = rng.random(n) < occlusion_rate
    return Scenes(
        centre=np.stack([u(0.42, 0.58), u(0.44, 0.52)], axis=1), scale=u(0.33, 0.41),
        roll=rng.normal(0, 0.12, n).clip(-0.3, 0.3).astype(np.float32),
        yaw=rng.normal(0, 0.15, n).clip(-0.4, 0.4).astype(np.float32),
        light=u(-0.4, 0.4, 2), face_light=np.concatenate([u(-1, 1, 2), u(0.05, 0.35, 1)], axis=1),
        background=u(0.05, 0.95, 2, 3), background_dir=u(-2, 2, 2), stripes=u([3, 0, 0], [12, np.pi, 1], 3),
        rectangle=u([0, 0, 0.05, 0.05], [1, 1, 0.3, 0.3], 4), disc=u([0, 0, 0.05], [1, 1, 0.25], 3),
        clutter_colour=u(0, 1, 2, 3), clutter_opacity=u(0, 0.9, 3) * (rng.random((n, 3)) < 0.7),
        clothes=u(0.05, 0.9, 3), white_balance=rng.normal(1, 0.05, (n, 3)).astype(np.float32),
        occluder=np.where(occluded, rng.integers(1, len(OCCLUDERS), n), 0),
        occluder_pose=np.stack([u(-0.5, 0.5), u(-0.3, 0.7), u(-0.8, 0.8), u(0.7, 1.2)], axis=1),
        occluder_colour=u(0.05, 0.9, 3),
        blur=u(0.5, 2.0) * (rng.random(n) < 0.25), noise=u(0.0, 0.025))


def lab_scenes(rng: np.random.Generator, n: int) -> Scenes:
    """Lab-controlled scenes, as in CK+ or JAFFE: near-frontal and centred, a plain background of one random
    grey, soft light, no clutter, occluder or blur, little noise. Identity and expression still vary."""
    scenes = sample_scenes(rng, n, occlusion_rate=0.0)

    def normal(mean: float, std: float) -> np.ndarray:
        return rng.normal(mean, std, n).astype(np.float32)

    grey = rng.uniform(0.45, 0.85, (n, 1, 1)).astype(np.float32)
    return replace(scenes, centre=np.stack([normal(0.5, 0.01), normal(0.48, 0.01)], axis=1),
                   scale=rng.uniform(0.36, 0.39, n).astype(np.float32), roll=normal(0, 0.03), yaw=normal(0, 0.05),
                   light=scenes.light * 0.25, background=np.repeat(np.repeat(grey, 2, axis=1), 3, axis=2),
                   clutter_opacity=np.zeros((n, 3), np.float32), blur=np.zeros(n, np.float32),
                   noise=rng.uniform(0, 0.01, n).astype(np.float32))


def frontal_scenes(n: int) -> Scenes:
    """Passport-style scenes: centred, upright, plain grey background, no clutter, occluder, blur or noise."""
    scenes = sample_scenes(np.random.default_rng(0), n, occlusion_rate=0.0)
    return replace(scenes, centre=np.tile(np.float32([[0.5, 0.48]]), (n, 1)), scale=np.full(n, 0.37, np.float32),
                   roll=np.zeros(n, np.float32), yaw=np.zeros(n, np.float32), light=np.zeros((n, 2), np.float32),
                   face_light=np.tile(np.float32([[-0.5, -0.5, 0.2]]), (n, 1)),
                   background=np.full((n, 2, 3), 0.75, np.float32), clutter_opacity=np.zeros((n, 3), np.float32),
                   clothes=np.tile(np.float32([[0.25, 0.35, 0.55]]), (n, 1)), white_balance=np.ones((n, 3), np.float32),
                   blur=np.zeros(n, np.float32), noise=np.zeros(n, np.float32))


def drift_scenes(scene: Scenes, frames: int, rng: np.random.Generator) -> Scenes:
    """`frames` copies of each scene with a slow random head motion: (S,) -> (S * frames,), clip by clip."""
    count = len(scene)
    repeated = scene.take(np.repeat(np.arange(count), frames))

    def walk(std: float, *shape: int) -> np.ndarray:
        steps = rng.normal(0, std, (count, frames, *shape))
        return np.cumsum(steps, axis=1).reshape(count * frames, *shape).astype(np.float32)

    return replace(repeated, centre=repeated.centre + walk(0.004, 2), roll=repeated.roll + walk(0.01),
                   yaw=(repeated.yaw + walk(0.015)).clip(-0.45, 0.45),
                   noise=rng.uniform(0, 0.025, count * frames).astype(np.float32))


@dataclass
class _Layout:
    """Face-frame geometry of one batch after the action units have moved it; arrays (B,)."""

    eye_top: np.ndarray
    eye_bottom: np.ndarray
    brow_x: np.ndarray
    brow_inner: np.ndarray      # y of the inner brow end
    brow_outer: np.ndarray
    nose_y: np.ndarray
    nose_width: np.ndarray
    mouth_y: np.ndarray
    mouth_width: np.ndarray
    corner_lift: np.ndarray     # y offset of the mouth corners (negative = up)
    opening: np.ndarray         # half-height of the open mouth
    upper_lip: np.ndarray
    lower_lip: np.ndarray
    chin: np.ndarray


def _layout(app: Appearance, au: np.ndarray) -> _Layout:
    """Where the brows, lids, nose and mouth are for these action units: au (B, 12) -> _Layout."""
    a = [au[:, i] for i in range(12)]
    brow_y = app.eye_y - app.brow_gap - app.brow_arch
    mouth_width = app.mouth_width * (1 + 0.3 * a[AU20] + 0.2 * a[AU12] - 0.12 * a[AU24] - 0.12 * a[AU26])
    lip_scale = (1 - 0.6 * a[AU24]) * (1 - 0.25 * a[AU20] - 0.2 * a[AU12])
    return _Layout(
        eye_top=app.eye_height * (1 + 1.1 * a[AU5] - 0.45 * a[AU6] - 0.25 * a[AU4] - 0.25 * a[AU9]),
        eye_bottom=app.eye_height * 0.7 * (1 - 0.75 * a[AU6] + 0.3 * a[AU5]),
        brow_x=app.eye_x + 0.01 - 0.05 * a[AU4],
        brow_inner=brow_y - 0.13 * a[AU1] + 0.09 * a[AU4] + 0.04 * a[AU9],
        brow_outer=brow_y - 0.12 * a[AU2] + 0.04 * a[AU4] - 0.02 * a[AU1],
        nose_y=app.nose_y - 0.025 * a[AU9],
        nose_width=app.nose_width * (1 + 0.3 * a[AU9]),
        mouth_y=app.mouth_y + 0.07 * a[AU26] - 0.02 * a[AU9],
        mouth_width=mouth_width,
        corner_lift=0.12 * a[AU15] - 0.15 * a[AU12] + 0.03 * a[AU20],
        opening=0.14 * a[AU26] + 0.04 * a[AU25],
        upper_lip=app.lip_thickness * lip_scale,
        lower_lip=1.25 * app.lip_thickness * lip_scale,
        chin=1 + 0.12 * a[AU26])


_LINE = 0.012                   # half-width of wrinkles and shadow lines (face units)
_UPPER_FACE = (0.62, -0.7, 0.2)  # face-frame windows (half-width, top, bottom): brows and eyes...
_LOWER_FACE = (0.56, -0.2, 0.95)  # ... nose, cheeks and mouth


def _col(x: np.ndarray) -> np.ndarray:
    """(B,) -> (B, 1, 1) for broadcasting over a (B, H, W) grid."""
    return np.asarray(x, dtype=np.float32)[:, None, None]


def _edge(distance: np.ndarray, sharpness: np.ndarray) -> np.ndarray:
    """Soft inside-mask from a signed distance (positive inside) and the edge sharpness (1 / edge width)."""
    mask = distance * sharpness
    mask += 0.5
    return np.clip(mask, 0.0, 1.0, out=mask)


class _Canvas:
    """RGB images (B, 3, H, W) painted layer over layer, in place."""

    def __init__(self, rgb: np.ndarray) -> None:
        self.rgb = rgb

    def paint(self, mask: np.ndarray, colour: np.ndarray) -> None:
        """Composite `colour` (B, 3) in place with opacity `mask` (B, H, W)."""
        colour = colour[:, :, None, None].astype(np.float32)
        self.rgb -= colour                      # rgb (1 - mask) + colour mask, without a temporary image
        self.rgb *= 1 - mask[:, None]
        self.rgb += colour

    def crop(self, origin: np.ndarray, height: int, width: int) -> "_Canvas":
        """Per-image windows of one size at `origin` (B, 2) pixel x, y offsets."""
        return _Canvas(_crop(self.rgb, origin, height, width))

    def paste(self, window: "_Canvas", origin: np.ndarray) -> None:
        """Write windows from `crop` back in place."""
        height, width = window.rgb.shape[2:]
        for image, part, (x, y) in zip(self.rgb, window.rgb, origin):
            image[:, y:y + height, x:x + width] = part


def _crop(images: np.ndarray, origin: np.ndarray, height: int, width: int) -> np.ndarray:
    """Windows (B, ..., height, width) of (B, ..., H, W) arrays at per-image pixel offsets `origin` (B, 2) x, y."""
    return np.stack([image[..., y:y + height, x:x + width] for image, (x, y) in zip(images, origin)])


def _ellipse(x: np.ndarray, y: np.ndarray, half_x: np.ndarray | float, half_y: np.ndarray | float) -> np.ndarray:
    """Approximate signed distance (positive inside) to an axis-aligned ellipse centred at the origin."""
    scale = 0.5 * np.minimum(half_x, half_y)
    distance = x * x
    distance *= -scale / half_x ** 2
    distance -= y * y * (scale / half_y ** 2)
    distance += scale
    return distance


def _band(distance: np.ndarray, half_width: float | np.ndarray) -> np.ndarray:
    """Signed distance to a line of half-width `half_width`, given the distance to its centre line."""
    return half_width - np.abs(distance)


@dataclass
class _Frame:
    """Per-pixel face-frame coordinates of a batch: u, v before yaw; x after yaw (x mirrored = |x|)."""

    u: np.ndarray          # (B, H, W)
    v: np.ndarray          # (B, H, W)
    x: np.ndarray          # (B, H, W) yaw-corrected horizontal face coordinate
    sharp: np.ndarray      # (B, 1, 1) edge sharpness: pixels per face unit, divided by 1 + defocus blur

    def crop(self, origin: np.ndarray, height: int, width: int) -> "_Frame":
        """The coordinates of per-image windows (see `_Canvas.crop`)."""
        return _Frame(*(_crop(grid, origin, height, width) for grid in (self.u, self.v, self.x)), sharp=self.sharp)


def _yaw_terms(app: Appearance, scene: Scenes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Head as a cylinder-like surface depth(x) = d (1 - x^2 / a^2): returns cos(yaw), sin(yaw) d, curvature."""
    depth = 0.55 * app.face_width
    sin_yaw = np.sin(scene.yaw).astype(np.float32)
    return np.cos(scene.yaw).astype(np.float32), sin_yaw * depth, sin_yaw * depth / app.face_width ** 2


def _face_frame(app: Appearance, scene: Scenes, size: int) -> _Frame:
    """Face-frame coordinates of every pixel centre of (size, size) images (the inverse of `_to_pixels`)."""
    scale = scene.scale * size
    pixels = np.arange(size, dtype=np.float32) + 0.5
    dx = pixels[None, None, :] - _col(scene.centre[:, 0] * size)      # (B, 1, W)
    dy = pixels[None, :, None] - _col(scene.centre[:, 1] * size)      # (B, H, 1)
    cos_r, sin_r = _col(np.cos(scene.roll) / scale), _col(np.sin(scene.roll) / scale)
    u = dx * cos_r + dy * sin_r
    v = dy * cos_r - dx * sin_r
    # yaw: image u = cos(yaw) x + sin(yaw) depth(x); solve the quadratic for x (stable root).
    cos_y, shift, curve = (_col(t) for t in _yaw_terms(app, scene))
    rhs = u - shift
    x = 2 * rhs / (cos_y + np.sqrt(np.maximum(cos_y ** 2 - 4 * curve * rhs, 0.0)))
    return _Frame(u=u, v=v, x=x, sharp=_col(scale / (1 + scene.blur)))


def _to_pixels(x: np.ndarray, y: np.ndarray, app: Appearance, scene: Scenes, size: int) -> np.ndarray:
    """Face-frame points (B, K) -> pixel (x, y) points (B, K, 2)."""
    cos_y, shift, curve = (t[:, None] for t in _yaw_terms(app, scene))
    u = cos_y * x + shift - curve * x ** 2
    scale = (scene.scale * size)[:, None]
    cos_r, sin_r = np.cos(scene.roll)[:, None], np.sin(scene.roll)[:, None]
    px = scene.centre[:, :1] * size + scale * (cos_r * u - sin_r * y)
    py = scene.centre[:, 1:] * size + scale * (sin_r * u + cos_r * y)
    return np.stack([px, py], axis=-1).astype(np.float32)


def face_geometry(app: Appearance, au: np.ndarray, scene: Scenes, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Landmarks (B, K, 2) in `LANDMARK_NAMES` order and face boxes (B, 4) x0, y0, x1, y1, in pixels."""
    lay = _layout(app, au)
    brow_y = (lay.brow_inner + lay.brow_outer) / 2 - app.brow_arch
    corner_y = lay.mouth_y + lay.corner_lift
    xs = np.stack([-app.eye_x, app.eye_x, -lay.brow_x, lay.brow_x, _nose_shift(app, scene), -lay.mouth_width,
                   lay.mouth_width, 0 * lay.mouth_y, 0 * lay.mouth_y, 0 * lay.mouth_y, 0 * lay.mouth_y], axis=1)
    ys = np.stack([app.eye_y, app.eye_y, brow_y, brow_y, lay.nose_y, corner_y, corner_y, lay.mouth_y,
                   lay.mouth_y - lay.opening - lay.upper_lip, lay.mouth_y + lay.opening + lay.lower_lip,
                   0.97 * lay.chin], axis=1)
    landmarks = _to_pixels(xs, ys, app, scene, size)
    # Box: the face outline from the upper forehead down to the chin (where a face detector puts it).
    angle = np.linspace(0, 2 * np.pi, 48, endpoint=False, dtype=np.float32)[None, :]
    oy = np.where(np.sin(angle) > 0, lay.chin[:, None], 1.0) * np.sin(angle)
    ox = app.face_width[:, None] * np.cos(angle) * (1 - app.jaw_taper[:, None] * np.clip(oy, 0, 1) ** 2)
    outline = _to_pixels(ox, np.maximum(oy, -0.8), app, scene, size)
    boxes = np.concatenate([outline.min(axis=1), outline.max(axis=1)], axis=1).clip(0, size)
    return landmarks, boxes


def _nose_shift(app: Appearance, scene: Scenes) -> np.ndarray:
    """The nose stands out of the face: under yaw it slides further than the face surface (face-frame x)."""
    return (np.sin(scene.yaw) * 0.25 * app.face_width).astype(np.float32)


def render_faces(app: Appearance, au: np.ndarray, scene: Scenes, size: int,
                 rng: np.random.Generator) -> np.ndarray:
    """Draw B faces: appearance (B,), action units (B, 12) in [0, 1], scenes (B,) -> float32 RGB (B, 3, H, W).

    Values are in [0, 1]; `rng` draws the pixel noise.
    """
    frame = _face_frame(app, scene, size)
    lay = _layout(app, au)
    canvas = _background(scene, size)
    face = _head(canvas, frame, app, lay, scene)
    for box, parts in ((_UPPER_FACE, (_brows, _eyes)), (_LOWER_FACE, (_nose_and_cheeks, _mouth))):
        origin, height, width = _window(app, scene, size, box)
        window = canvas.crop(origin, height, width)
        local = frame.crop(origin, height, width)
        for draw in parts:
            draw(window, local, app, lay, au, scene)
        canvas.paste(window, origin)
    _occluders(canvas, frame, scene, app)
    _light(canvas.rgb, frame, face, app, scene, size)
    _add_noise(canvas.rgb, scene, rng)
    return canvas.rgb


def _window(app: Appearance, scene: Scenes, size: int, box: tuple[float, float, float]) -> tuple[np.ndarray, int, int]:
    """Pixel windows around a face-frame box (half-width, top, bottom): origins (B, 2) and one height, width.

    The small parts of a face are drawn in such windows only, which is several times faster than on whole images.
    """
    half, top, bottom = box
    xs = np.tile(np.float32([-half, half, -half, half]), (len(scene), 1))
    ys = np.tile(np.float32([top, top, bottom, bottom]), (len(scene), 1))
    corners = _to_pixels(xs, ys, app, scene, size)
    low, high = np.floor(corners.min(axis=1)).astype(np.int64) - 1, np.ceil(corners.max(axis=1)).astype(np.int64) + 1
    width, height = np.minimum((high - low).max(axis=0), size)
    origin = np.clip(low, 0, [size - width, size - height])
    return origin, int(height), int(width)


def _background(scene: Scenes, size: int) -> _Canvas:
    """Two-colour gradient striped with a wave, plus clutter (a rectangle, a disc) -> canvas (B, 3, H, W)."""
    grid = (np.arange(size, dtype=np.float32) + 0.5) / size
    gx, gy = grid[None, None, :], grid[None, :, None]
    rect, disc, stripes = scene.rectangle, scene.disc, scene.stripes
    opacity, pixel = scene.clutter_opacity, _col(size / (1 + scene.blur))
    direction = scene.background_dir
    phase = gx * _col(np.cos(stripes[:, 1]) * stripes[:, 0]) + gy * _col(np.sin(stripes[:, 1]) * stripes[:, 0])
    t = _edge(np.sin(2 * np.pi * (phase + _col(stripes[:, 2]))), np.float32(3)) * _col(opacity[:, 0])
    t += 0.5 + _col(direction[:, 0]) * (gx - 0.5) + _col(direction[:, 1]) * (gy - 0.5)
    np.clip(t, 0, 1, out=t)
    first, second = scene.background[:, 0], scene.background[:, 1]
    canvas = _Canvas(first[:, :, None, None] + t[:, None] * (second - first)[:, :, None, None])
    box_x = _edge(_band(gx - _col(rect[:, 0]), _col(rect[:, 2])), pixel)   # separable: (B, 1, W) x (B, H, 1)
    box_y = _edge(_band(gy - _col(rect[:, 1]), _col(rect[:, 3])), pixel)
    canvas.paint(box_x * box_y * _col(opacity[:, 1]), scene.clutter_colour[:, 0])
    radius = np.sqrt((gx - _col(disc[:, 0])) ** 2 + (gy - _col(disc[:, 1])) ** 2)
    canvas.paint(_edge(_col(disc[:, 2]) - radius, pixel) * _col(opacity[:, 2]), scene.clutter_colour[:, 1])
    return canvas


def _head(canvas: _Canvas, f: _Frame, app: Appearance, lay: _Layout, scene: Scenes) -> np.ndarray:
    """Shoulders, neck, ears, hair and facial skin; returns the face-skin mask (B, H, W)."""
    a, volume, style = _col(app.face_width), _col(app.hair_volume), app.hair_style
    x, v, ax, sharp = f.x, f.v, np.abs(f.x), f.sharp
    neck = np.minimum(0.42 * a - ax, np.minimum(1.8 - v, v - 0.3))
    ears = _ellipse(ax - 0.97 * a, v - _col(app.eye_y + 0.08), 0.075, 0.14)
    canvas.paint(_edge(np.maximum(neck, ears), sharp), app.skin * 0.88)
    canvas.paint(_edge(_ellipse(f.u, v - 1.9, 1.5, 0.62), sharp), scene.clothes)
    cap = _ellipse(x, v + 0.06, a + 0.05 + volume, 1.03 + volume)
    if (style == HAIR_STYLES.index("long")).any():
        long_hair = np.maximum(cap, _ellipse(x, v - 0.15, a + 0.14 + volume, 1.05 + volume))
        canvas.paint(_edge(long_hair, sharp) * _col(style == HAIR_STYLES.index("long")), app.hair)
    width = a * (1 - _col(app.jaw_taper) * np.clip(v, 0, 1) ** 2)
    height = 1 + (v > 0) * _col(lay.chin - 1)
    face = _edge(_ellipse(x, v, width, height), sharp)
    canvas.paint(face, app.skin)
    canvas.paint(_edge(np.minimum(cap, _hairline(app, x) - v), sharp), app.hair)
    return face


def _hairline(app: Appearance, x: np.ndarray) -> np.ndarray:
    """y of the lower edge of the hair above the forehead at face-frame x (B, H, W): low and flat for a fringe,
    far above the head when bald."""
    fringe, bald = app.hair_style == HAIR_STYLES.index("fringe"), app.hair_style == HAIR_STYLES.index("bald")
    top = np.where(fringe, -0.42, np.where(bald, -9.0, app.hairline))
    curve = np.where(fringe, 0.15, 0.55) / app.face_width ** 2
    return _col(top) + _col(curve) * x ** 2


def _brows(canvas: _Canvas, f: _Frame, app: Appearance, lay: _Layout, au: np.ndarray, scene: Scenes) -> None:
    """Brows (AU1/AU2 raise the inner/outer ends, AU4 lowers and knits them) and the lines around them:
    forehead (AU1 + AU2), glabella (AU4), the crease under the eyes (AU6). Hair over the forehead hides them."""
    x, v, ax, sharp = f.x, f.v, np.abs(f.x), f.sharp
    below_hair = _edge(v - _hairline(app, x), sharp)
    half = _col(app.eye_width * 1.3)
    t = (ax - _col(lay.brow_x)) / half                                       # -1 inner end, +1 outer end
    centre = (_col(lay.brow_inner) * (1 - t) + _col(lay.brow_outer) * (1 + t)) / 2 - _col(app.brow_arch) * (1 - t ** 2)
    brow = np.minimum(_band(v - centre, _col(app.brow_thickness) * (1.1 - 0.2 * t)), (1 - np.abs(t)) * half)
    canvas.paint(_edge(brow, sharp) * below_hair, app.hair * 0.6)
    rest_brow, eye_y = _col(app.eye_y - app.brow_gap), _col(app.eye_y)
    forehead = np.maximum(_band(v - rest_brow + 0.17 + 0.06 * x ** 2, _LINE),
                          _band(v - rest_brow + 0.25 + 0.06 * x ** 2, _LINE))
    forehead = _edge(np.minimum(forehead, 0.32 - ax), sharp) * below_hair * _col(0.3 * (au[:, AU1] + au[:, AU2]))
    glabella = np.minimum(_band(ax - 0.045, _LINE), np.minimum(v - rest_brow + 0.03, rest_brow + 0.12 - v))
    glabella = _edge(glabella, sharp) * _col(0.8 * au[:, AU4])
    eye_t = (ax - _col(app.eye_x)) / _col(app.eye_width)
    crease = np.minimum(_band(v - eye_y - _col(lay.eye_bottom) * (1 - eye_t ** 2) - 0.035, _LINE), 0.9 - np.abs(eye_t))
    crease = _edge(crease, sharp) * _col(0.3 + 0.6 * au[:, AU6])
    canvas.paint(np.maximum(np.maximum(forehead, glabella), crease), app.skin * 0.5)


def _eyes(canvas: _Canvas, f: _Frame, app: Appearance, lay: _Layout, au: np.ndarray, scene: Scenes) -> None:
    """Almond opening between the lids (AU5 opens it, AU6 closes it from below), iris, pupil, lash line, glasses."""
    ax, dv, sharp = np.abs(f.x) - _col(app.eye_x), f.v - _col(app.eye_y), f.sharp
    eye_t = ax / _col(app.eye_width)
    lid_shape = 1 - eye_t ** 2
    top = _col(lay.eye_top) * lid_shape
    opening = _edge(np.minimum(dv + top, _col(lay.eye_bottom) * lid_shape - dv), sharp)
    canvas.paint(opening, np.float32([[0.95, 0.95, 0.93]]))
    iris_r = _col(app.eye_width * 0.45)
    centre_dist = ax ** 2 + dv ** 2
    canvas.paint(opening * _edge((iris_r ** 2 - centre_dist) / (2 * iris_r), sharp), app.iris)
    canvas.paint(opening * _edge((0.2 * iris_r ** 2 - centre_dist) / iris_r, sharp), np.float32([[0.0, 0.0, 0.0]]))
    canvas.paint(_edge(np.minimum(_band(dv + top, 0.015), 1.05 - np.abs(eye_t)), sharp), app.hair * 0.3)
    if app.glasses.any():
        ring = np.sqrt(ax ** 2 + (dv / 0.8) ** 2) - _col(app.eye_width * 1.5)
        frame = np.maximum(_band(ring, 0.014), np.minimum(_band(dv + 0.01, 0.014), -ax))
        canvas.paint(_edge(frame, sharp) * _col(app.glasses), app.frame_colour)


def _nose_and_cheeks(canvas: _Canvas, f: _Frame, app: Appearance, lay: _Layout, au: np.ndarray,
                     scene: Scenes) -> None:
    """Cheeks (AU6 raises them), nose (AU9 lifts and widens it, wrinkles its bridge), nasolabial folds
    (deepened by AU12, AU9, AU6)."""
    x, v, ax, sharp = f.x, f.v, np.abs(f.x), f.sharp
    cheek = np.clip(1 - ((ax - 0.34) ** 2 + (v - _col(app.nose_y - 0.02 - 0.06 * au[:, AU6])) ** 2) / 0.03, 0, 1)
    canvas.paint(cheek * _col(0.1 + 0.5 * app.blush + 0.3 * au[:, AU6]), app.skin * np.float32([1.0, 0.62, 0.6]))
    eye_y, nose_y = _col(app.eye_y), _col(lay.nose_y)
    nose_x = np.abs(x - _col(_nose_shift(app, scene)))
    wrinkle = np.maximum(_band(v - eye_y - 0.05, _LINE), _band(v - eye_y - 0.10, _LINE))
    wrinkle = _edge(np.minimum(wrinkle, 0.06 - nose_x), sharp) * _col(0.9 * au[:, AU9])
    mouth_corner = _col(lay.mouth_y + lay.corner_lift)
    along = (v - nose_y) / (mouth_corner - nose_y)                          # 0 at the nose wing, 1 at the corner
    fold_x = _col(lay.nose_width * 1.2) + _col(lay.mouth_width + 0.04 - lay.nose_width * 1.2) * along \
        + 0.05 * along * (1 - along)
    fold = _edge(np.minimum(_band(ax - fold_x, _LINE), np.minimum(along, 1 - along) * 0.2), sharp)
    fold *= _col(np.clip(0.15 + 0.7 * au[:, AU12] + 0.4 * au[:, AU9] + 0.2 * au[:, AU6], 0, 1))
    bridge = 0.35 * _edge(np.minimum(_band(nose_x - 0.055, _LINE), np.minimum(v - eye_y, nose_y - v)), sharp)
    tip = np.sqrt(nose_x ** 2 + (v - nose_y + 0.05) ** 2)
    nose_base = 0.7 * _edge(np.minimum(_band(tip - _col(lay.nose_width) * 0.9, 1.3 * _LINE), v - nose_y + 0.03), sharp)
    canvas.paint(np.maximum(np.maximum(wrinkle, fold), np.maximum(bridge, nose_base)), app.skin * 0.5)
    nostrils = _ellipse(nose_x - _col(lay.nose_width * 0.55), v - nose_y - 0.015, _col(lay.nose_width * 0.35), 0.02)
    canvas.paint(0.8 * _edge(nostrils, sharp), app.skin * 0.3)


def _mouth(canvas: _Canvas, f: _Frame, app: Appearance, lay: _Layout, au: np.ndarray, scene: Scenes) -> None:
    """Lips around an opening: AU12/AU15 lift/drop the corners, AU20 stretches, AU24 presses, AU25/AU26 open."""
    mouth_t = np.abs(f.x) / _col(lay.mouth_width)
    root = np.sqrt(np.clip(1 - mouth_t ** 2, 0, 1))
    dy = f.v - _col(lay.mouth_y) - _col(lay.corner_lift) * mouth_t ** 2
    corner = (1 - mouth_t) * _col(lay.mouth_width)
    gap = _col(lay.opening) * root
    lips = np.minimum(np.minimum(dy + gap + _col(lay.upper_lip) * root, gap + _col(lay.lower_lip) * root - dy), corner)
    canvas.paint(_edge(lips, f.sharp), app.lip)
    inside = _edge(np.minimum(_band(dy, gap), corner), f.sharp)
    canvas.paint(inside, np.float32([[0.25, 0.06, 0.06]]))
    teeth = inside * _edge(-dy - 0.3 * gap, f.sharp) * (gap > 0.015) * _col(np.clip(0.2 + au[:, AU12], 0, 1))
    canvas.paint(teeth, np.float32([[0.92, 0.92, 0.9]]))


def _occluders(canvas: _Canvas, f: _Frame, scene: Scenes, app: Appearance) -> None:
    """A bar (scarf, phone, sunglasses band) or a hand over part of the face, on the images that have one."""
    for kind in (OCCLUDERS.index("bar"), OCCLUDERS.index("hand")):
        idx = np.flatnonzero(scene.occluder == kind)
        if idx.size == 0:
            continue
        pose = scene.occluder_pose[idx]
        cos_a, sin_a, size = _col(np.cos(pose[:, 2])), _col(np.sin(pose[:, 2])), _col(pose[:, 3])
        du, dv = f.u[idx] - _col(pose[:, 0]), f.v[idx] - _col(pose[:, 1])
        along, across = du * cos_a + dv * sin_a, dv * cos_a - du * sin_a
        part, sharp = _Canvas(canvas.rgb[idx]), f.sharp[idx]
        if kind == OCCLUDERS.index("bar"):
            bar = np.minimum(_band(across, 0.13 * size), _band(along, 0.6 * size))
            part.paint(_edge(bar, sharp), scene.occluder_colour[idx])
        else:
            palm = _ellipse(along, across + 0.1 * size, 0.3 * size, 0.25 * size)
            fingers = np.minimum(_band(along, 0.3 * size), np.minimum(across + 0.1 * size, 0.45 * size - across))
            hand = _edge(np.maximum(palm, fingers), sharp)
            part.paint(hand, app.skin[idx] * scene.white_balance[idx])
            gaps = _edge(np.minimum(_band(np.abs(along) - 0.1 * size, 0.008), across - 0.05), sharp)
            part.paint(0.6 * gaps * hand, app.skin[idx] * 0.5)
        canvas.rgb[idx] = part.rgb


def _light(rgb: np.ndarray, f: _Frame, face: np.ndarray, app: Appearance, scene: Scenes, size: int) -> None:
    """Image-wide brightness gradient, directional shading of the rounded face, white balance (in place)."""
    grid = (np.arange(size, dtype=np.float32) + 0.5) / size - 0.5
    light = scene.face_light
    roundness = np.clip(_col(light[:, 0] / app.face_width) * f.x + _col(light[:, 1]) * f.v, -1.5, 1.5)
    gain = face * _col(light[:, 2]) * roundness
    gain += 1 + _col(scene.light[:, 0]) * grid[None, None, :] + _col(scene.light[:, 1]) * grid[None, :, None]
    rgb *= gain[:, None]
    rgb *= scene.white_balance[:, :, None, None]


def _add_noise(rgb: np.ndarray, scene: Scenes, rng: np.random.Generator) -> None:
    """Uniform pixel noise of std `scene.noise`, shared by the channels; clips to [0, 1] (in place)."""
    noise = rng.random((len(rgb), 1, *rgb.shape[2:]), dtype=np.float32)
    noise -= 0.5
    noise *= (scene.noise * np.sqrt(12))[:, None, None, None]
    rgb += noise
    np.clip(rgb, 0, 1, out=rgb)


def to_uint8(rgb: np.ndarray, channels: int) -> np.ndarray:
    """Float RGB (B, 3, H, W) in [0, 1] -> uint8 (B, H, W, channels), luminance when channels == 1.

    `rgb` is consumed: it is scaled in place.
    """
    if channels == 1:
        rgb = 0.299 * rgb[:, :1] + 0.587 * rgb[:, 1:2] + 0.114 * rgb[:, 2:]
    rgb *= 255
    rgb += 0.5
    return np.ascontiguousarray(rgb.astype(np.uint8).transpose(0, 2, 3, 1))
