"""China's GCJ-02 map datum, which DingTalk's location API answers in, turned back into WGS-84.

Areas carry WGS-84 (GPS) coordinates. GCJ-02 shifts a point inside China by a few hundred metres,
more than a site's radius, so a position in it must be turned back before it is compared.
"""
from __future__ import annotations

from math import cos, pi, sin, sqrt

_A, _EE = 6_378_245.0, 0.006_693_421_622_965_943_23   # the Krasovsky 1940 ellipsoid GCJ-02 is built on


def _outside_china(lat: float, lng: float) -> bool:
    # GCJ-02 leaves points outside this box unshifted.
    return not (72.004 <= lng <= 137.8347 and 0.8293 <= lat <= 55.8271)


def _shift_lat(x: float, y: float) -> float:
    r = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sqrt(abs(x))
    r += (20.0 * sin(6.0 * x * pi) + 20.0 * sin(2.0 * x * pi)) * 2.0 / 3.0
    r += (20.0 * sin(y * pi) + 40.0 * sin(y / 3.0 * pi)) * 2.0 / 3.0
    return r + (160.0 * sin(y / 12.0 * pi) + 320 * sin(y * pi / 30.0)) * 2.0 / 3.0


def _shift_lng(x: float, y: float) -> float:
    r = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sqrt(abs(x))
    r += (20.0 * sin(6.0 * x * pi) + 20.0 * sin(2.0 * x * pi)) * 2.0 / 3.0
    r += (20.0 * sin(x * pi) + 40.0 * sin(x / 3.0 * pi)) * 2.0 / 3.0
    return r + (150.0 * sin(x / 12.0 * pi) + 300.0 * sin(x / 30.0 * pi)) * 2.0 / 3.0


def wgs84_to_gcj02(lat: float, lng: float) -> tuple[float, float]:
    """Return the GCJ-02 position of a WGS-84 one (unchanged outside China)."""
    if _outside_china(lat, lng):
        return lat, lng
    dlat, dlng = _shift_lat(lng - 105.0, lat - 35.0), _shift_lng(lng - 105.0, lat - 35.0)
    rad = lat / 180.0 * pi
    magic = 1 - _EE * sin(rad) ** 2
    dlat = (dlat * 180.0) / ((_A * (1 - _EE)) / (magic * sqrt(magic)) * pi)
    dlng = (dlng * 180.0) / (_A / sqrt(magic) * cos(rad) * pi)
    return lat + dlat, lng + dlng


def gcj02_to_wgs84(lat: float, lng: float) -> tuple[float, float]:
    """Return the WGS-84 position whose GCJ-02 is (lat, lng), to well under a metre."""
    # The shift has no closed inverse; it varies slowly, so a few fixed-point steps converge.
    wlat, wlng = lat, lng
    for _ in range(10):
        glat, glng = wgs84_to_gcj02(wlat, wlng)
        wlat, wlng = wlat + (lat - glat), wlng + (lng - glng)
    return wlat, wlng
