import pytest

from vjepa_fer.data.walk import NameError_
from vjepa_fer.datasets.cremad import naming as cremad_naming
from vjepa_fer.datasets.cremad.naming import parse_cremad
from vjepa_fer.datasets.ravdess import naming
from vjepa_fer.datasets.ravdess.naming import parse_ravdess


@pytest.mark.parametrize(
    ("code", "label"),
    [
        (1, "neutral"),
        (2, "calm"),
        (3, "happy"),
        (4, "sad"),
        (5, "angry"),
        (6, "fearful"),
        (7, "disgust"),
        (8, "surprised"),
    ],
)
def test_ravdess_every_emotion(code, label):
    inten = 1 if code == 1 else 2
    n = parse_ravdess(f"Actor_03/01-01-{code:02d}-{inten:02d}-01-01-03.mp4")
    assert n.label == label
    assert n.emotion == code


def test_ravdess_every_field():
    n = parse_ravdess("/data/Actor_24/02-01-06-02-02-01-24.mp4")
    assert (
        n.modality,
        n.vocal_channel,
        n.emotion,
        n.intensity,
        n.statement,
        n.repetition,
        n.actor,
    ) == (2, 1, 6, 2, 2, 1, 24)
    assert n.sex == "female"
    assert parse_ravdess("01-02-03-01-01-02-13.mp4").vocal_channel == 2  # song
    assert parse_ravdess("01-01-03-01-01-02-13.mp4").sex == "male"
    assert naming.RAVDESS_MODALITIES[parse_ravdess("03-01-01-01-01-01-01.wav").modality] == "audio"
    assert n.filename() == "02-01-06-02-02-01-24.mp4"
    # modality 01 and 02 of one take share the trial id
    assert parse_ravdess("01-01-06-02-02-01-24.mp4").trial == n.trial


@pytest.mark.parametrize(
    ("name", "field"),
    [
        ("04-01-01-01-01-01-01.mp4", "modality"),
        ("01-03-01-01-01-01-01.mp4", "vocal_channel"),
        ("01-01-09-01-01-01-01.mp4", "emotion"),
        ("01-01-02-03-01-01-01.mp4", "intensity"),
        ("01-01-02-01-03-01-01.mp4", "statement"),
        ("01-01-02-01-01-00-01.mp4", "repetition"),
        ("01-01-02-01-01-01-25.mp4", "actor"),
        ("01-01-01-02-01-01-01.mp4", "strong"),
    ],
)
def test_ravdess_bad_codes_name_the_path(name, field):
    with pytest.raises(NameError_, match=field) as info:
        parse_ravdess(f"/x/Actor_01/{name}")
    assert f"/x/Actor_01/{name}" in str(info.value)


@pytest.mark.parametrize(
    "name",
    ["01-01-01-01-01-01.mp4", "1-01-01-01-01-01-01.mp4", "x.mp4", "01-01-01-01-01-01-01.avi"],
)
def test_ravdess_malformed(name):
    with pytest.raises(NameError_, match="not a RAVDESS file name"):
        parse_ravdess(name)


def test_ravdess_design_is_60_trials_per_actor_and_modality():
    design = naming.ravdess_speech_design()
    assert len(design) == 2880
    assert len({d.filename() for d in design}) == 2880
    assert sum(d.label == "neutral" for d in design) == 192
    assert sum(d.label == "calm" for d in design) == 384


@pytest.mark.parametrize("code", sorted(cremad_naming.CREMAD_EMOTIONS))
def test_cremad_every_emotion(code):
    assert (
        parse_cremad(f"VideoFlash/1001_DFA_{code}_XX.flv").label
        == cremad_naming.CREMAD_EMOTIONS[code]
    )


@pytest.mark.parametrize("sentence", sorted(cremad_naming.CREMAD_SENTENCES))
@pytest.mark.parametrize("level", sorted(cremad_naming.CREMAD_LEVELS))
def test_cremad_every_sentence_and_level(sentence, level):
    n = parse_cremad(f"1091_{sentence}_ANG_{level}.flv")
    assert (n.actor, n.sentence, n.level) == (1091, sentence, level)
    assert n.filename() == f"1091_{sentence}_ANG_{level}.flv"


@pytest.mark.parametrize(
    ("name", "msg"),
    [
        ("1000_DFA_ANG_XX.flv", "outside"),
        ("1092_DFA_ANG_XX.flv", "outside"),
        ("1001_ABC_ANG_XX.flv", "sentence"),
        ("1001_DFA_SUR_XX.flv", "emotion"),
        ("1001_DFA_ANG_ZZ.flv", "level"),
        ("1001_DFA_ANG_XX.mp4", "not a CREMA-D file name"),
        ("1001-DFA-ANG-XX.flv", "not a CREMA-D file name"),
    ],
)
def test_cremad_bad_names(name, msg):
    with pytest.raises(NameError_, match=msg) as info:
        parse_cremad(f"/d/VideoFlash/{name}")
    assert name in str(info.value)
