"""Checks for the exercises of the chapter *Large-scale learning and determinism*.

Each check prints one verdict ("Correct: ..." or "Not yet: ..." and a hint that never
gives the expected value away) and returns True or False; it never raises, whatever it
is given.
"""

from __future__ import annotations

import numpy as np

from dlkit.exercises import never_raises, number, verdict

#: Exercise 1: Le et al.'s test set, 13,026 faces among this many images.
LE_FACES = 13_026
LE_IMAGES = 37_000

#: Exercise 2: five responses of a unit and their labels (1 = face).
AUC_F = np.array([0.9, 0.2, 0.6, 0.4, 0.8, 0.3])
AUC_Y = np.array([1, 0, 0, 1, 1, 0])

#: Exercise 3: Le et al.'s cluster: machines, cores per machine, days.
MACHINES, CORES_PER_MACHINE, DAYS = 1_000, 16, 3


def _auc(f, y):
    pos, neg = f[y == 1], f[y == 0]
    return float(((pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])).mean())


@never_raises
def check_guessing(answer) -> bool:
    """Exercise 1: the accuracy of always answering "no face" on LE_FACES faces among
    LE_IMAGES images, as a fraction in [0, 1]."""
    got = number(answer)
    if got is None:
        return verdict(False, "pass the accuracy, one number between 0 and 1")
    want = 1 - LE_FACES / LE_IMAGES
    if abs(got - want) <= 5e-4:
        return verdict(
            True,
            "every non-face is right and every face wrong, so the accuracy is the fraction "
            "of non-faces: the bar any face detector must clear",
        )
    if abs(got - 100 * want) <= 5e-2:
        return verdict(False, "give a fraction between 0 and 1, not a percentage")
    if abs(got - (1 - want)) <= 5e-4:
        return verdict(
            False, "that is the fraction of faces; guessing 'no face' is right on the others"
        )
    if not 0 <= got <= 1:
        return verdict(False, "an accuracy lies between 0 and 1")
    return verdict(False, "count the images that 'no face' gets right, and divide by all images")


@never_raises
def check_auc(answer) -> bool:
    """Exercise 2: the AUC of the responses AUC_F for the labels AUC_Y."""
    got = number(answer)
    if got is None:
        return verdict(False, "pass the AUC, one number between 0 and 1")
    want = _auc(AUC_F, AUC_Y)
    if abs(got - want) <= 1e-6:
        return verdict(
            True,
            "the AUC is the fraction of (face, non-face) pairs the unit orders rightly; "
            "it needs no threshold, unlike the accuracy",
        )
    if abs(got - (1 - want)) <= 1e-6:
        return verdict(
            False, "that counts the pairs ordered wrongly; count those where the face is higher"
        )
    if not 0 <= got <= 1:
        return verdict(False, "an AUC is a fraction of pairs, between 0 and 1")
    return verdict(
        False,
        "list the 3 × 3 (face, non-face) pairs and count those where the face's response is larger",
    )


@never_raises
def check_core_hours(answer) -> bool:
    """Exercise 3: the core-hours of MACHINES machines of CORES_PER_MACHINE cores for DAYS days."""
    got = number(answer)
    if got is None:
        return verdict(False, "pass the number of core-hours, one number")
    want = MACHINES * CORES_PER_MACHINE * DAYS * 24
    if abs(got - want) <= 1e-6 * want:
        return verdict(
            True,
            "over a million core-hours: on 2 cores that is decades, which is why the "
            "chapter's network is tens of thousands of times smaller",
        )
    if abs(got - want / 24) <= 1e-6 * want:
        return verdict(False, "that is core-days; a day has 24 hours")
    if abs(got - want / CORES_PER_MACHINE) <= 1e-6 * want:
        return verdict(False, "that counts machines, not cores: each machine has several")
    return verdict(False, "multiply machines, cores per machine, days and hours per day")
