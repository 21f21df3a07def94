"""The question sheets and their index stay in step with the answers on disk."""

import re
import shlex
import sys
import tomllib

import pytest
from harness import QUESTIONS, REFERENCE, ROOT, spec_topics

import gendojo
from gendojo import notebook, sheets
from gendojo.latent import FILES as LATENT_FILES
from gendojo.notebook import config_defaults

if str(ROOT) not in sys.path:  # benchmarks/ is imported as a package
    sys.path.insert(0, str(ROOT))

TOPICS = sorted(p.name for p in REFERENCE.iterdir() if p.is_dir() and not p.name.startswith(("_", ".")))


def test_every_topic_has_a_spec_a_sheet_and_an_index_row():
    index = (QUESTIONS / "README.md").read_text()
    for topic in TOPICS:
        assert topic in spec_topics(), f"answers/{topic}/ has no tests/topics/{topic}.py"
        assert (QUESTIONS / f"{topic}.md").is_file(), f"answers/{topic}/ has no questions/{topic}.md"
        assert f"]({topic}.md)" in index, f"questions/README.md does not list {topic}"


@pytest.mark.parametrize("topic", TOPICS)
def test_sheet_links_all_four_answers_and_its_pictures_exist(topic):
    sheet = (QUESTIONS / f"{topic}.md").read_text()
    for framework in gendojo.FRAMEWORKS:
        assert f"../answers/{topic}/{topic}_{framework}.py" in sheet, f"{topic}.md does not link {framework}"
    for target in re.findall(r"\]\((\.\./[^)#\s]+)\)", sheet):
        assert (QUESTIONS / target).resolve().exists(), f"{topic}.md links {target}, which does not exist"
    for section in (
        "## Parameter counts",
        "## Questions",
        "## Where the four frameworks differ",
        "## Results",
    ):
        assert section in sheet, f"{topic}.md has no '{section}' section"


def test_readme_commands_are_the_ones_ci_runs():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "bash setup.sh" in readme and "bash setup.sh" in ci
    assert "pytest -n 2 --dist loadgroup" in readme and "pytest -n 2 --dist loadgroup" in ci


# --- Hyperparameter tables against the answers' Config defaults --------------------------------

# Fields that are not hyperparameters: where to write, which device, whether to resume or be quiet.
NOT_HYPERPARAMETERS = {"out", "device", "resume", "quiet", "data_dir"}
NUMBER = re.compile(r"(?<![\w.])[-−]?\d{1,3}(?:,\d{3})+(?![\d.])|(?<![\w.])[-−]?\d+(?:\.\d+)?(?:e[-−]?\d+)?")
FLAG = re.compile(r"--[a-z][a-z0-9-]*")


def section(sheet, title):
    """The text of the ``## title`` section of a sheet, up to the next ``## `` heading."""
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", sheet, re.M | re.S)
    return match.group(1) if match else None


def table_rows(text):
    """The cells of every row of the first Markdown table in ``text``, header and rule left out."""
    rows = [line for line in text.splitlines() if line.startswith("|")]
    return [[cell.strip() for cell in row.strip("|").split("|")] for row in rows[2:]]


def numbers(text):
    return [float(token.replace(",", "").replace("−", "-")) for token in NUMBER.findall(text)]


def field_of(flag, fields):
    """The Config field ``flag`` sets, as the answer's argparse reads it (``--class`` → class_id)."""
    field = notebook.field_of(flag, fields)
    assert field is not None, f"{flag} names no Config field (or more than one)"
    return field


def table_problems(sheet, defaults, real_images=None):
    """What the sheet's hyperparameter table gets wrong about ``defaults`` (and about the second
    defaults a run on real images gets, ``real_images``): a list of sentences."""
    text = section(sheet, "Hyperparameters")
    if text is None:
        return ["no '## Hyperparameters' section"]
    problems, listed = [], set()
    for setting, value, flags in (row[:3] for row in table_rows(text)):
        row_fields = [field_of(flag, defaults) for flag in FLAG.findall(flags)]
        row_fields = list(dict.fromkeys(row_fields))  # --latent-plots / --no-latent-plots: one field
        listed.update(row_fields)
        tokens = numbers(value)
        for field in row_fields:
            default, wrong = defaults[field], False
            if isinstance(default, bool):
                wrong = ("on" if default else "off") not in value.split()
            elif isinstance(default, str):
                wrong = bool(default) and default not in value
            elif len(row_fields) == 1:  # the value starts with the default
                wrong = not tokens or abs(tokens[0]) != pytest.approx(abs(default))
            else:
                wrong = not any(token == pytest.approx(default) for token in tokens)
            if wrong:
                problems.append(f"row '{setting}' says '{value}', but {field} defaults to {default!r}")
            second = (real_images or {}).get(field, default)
            if second != default and (
                "on real images" not in value or not any(t == pytest.approx(second) for t in tokens)
            ):
                problems.append(f"row '{setting}' says '{value}', but on real images {field} is {second!r}")
    for field in defaults.keys() - NOT_HYPERPARAMETERS - listed:
        problems.append(f"{field} (default {defaults[field]!r}) is in no row of the table")
    return problems


@pytest.mark.parametrize("topic", TOPICS)
def test_hyperparameter_table_matches_the_four_configs(topic):
    sheet = (QUESTIONS / f"{topic}.md").read_text()
    for framework in gendojo.FRAMEWORKS:
        path = REFERENCE / topic / f"{topic}_{framework}.py"
        problems = table_problems(sheet, config_defaults(path), config_defaults(path, real_images=True))
        assert not problems, f"{topic}.md vs {topic}_{framework}.py Config:\n" + "\n".join(problems)


def test_the_table_check_catches_a_wrong_default():
    sheet = (QUESTIONS / "convae.md").read_text()
    defaults = config_defaults(REFERENCE / "convae" / "convae_pytorch.py")
    assert table_problems(sheet, defaults) == []
    assert table_problems(sheet, defaults | {"steps": 1500}) == [
        "row 'training steps' says '1000', but steps defaults to 1500"
    ]
    assert table_problems(sheet, defaults | {"lr": 2e-4})  # lr shares its row with Adam's betas
    assert table_problems(sheet, defaults | {"seed": 0, "new_setting": 3}) == [
        "new_setting (default 3) is in no row of the table"
    ]
    assert table_problems(sheet, defaults, defaults | {"steps": 1500}) == [
        "row 'training steps' says '1000', but on real images steps is 1500"
    ]


# --- Pictures: every one listed with its command, shown somewhere, and every one shown exists ----

ASSETS = ROOT / "assets"
IMAGE = re.compile(r"!\[[^\]]*\]\(([^)\s]+)\)")
PICTURE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".svg")
# Files an answer writes into its output folder that a picture can come from.
ANSWER_OUTPUTS = ("samples.png", "losses.png", *LATENT_FILES)


def manifest():
    return tomllib.loads((ASSETS / "manifest.toml").read_text())["asset"]


def documents():
    """Every Markdown file of the project a reader may open (not the download cache or outputs)."""
    skip = ("outputs", "datasets/cache", ".git", "starter")
    return [p for p in ROOT.rglob("*.md") if not any(part in p.relative_to(ROOT).as_posix() for part in skip)]


def shown_pictures():
    """{document: [image paths it shows, resolved]} for every relative image reference."""
    shown = {}
    for document in documents():
        targets = [t for t in IMAGE.findall(document.read_text()) if "://" not in t]
        shown[document] = [(document.parent / target.split("#")[0]).resolve() for target in targets]
    return shown


def test_every_picture_shown_exists():
    for document, pictures in shown_pictures().items():
        for picture in pictures:
            assert picture.is_file(), f"{document.relative_to(ROOT)} shows {picture}, which does not exist"


def test_every_picture_is_in_the_manifest_and_shown_somewhere():
    on_disk = {p.relative_to(ASSETS).as_posix() for p in ASSETS.rglob("*") if p.suffix in PICTURE_SUFFIXES}
    listed = [entry["path"] for entry in manifest()]
    assert len(listed) == len(set(listed)), "assets/manifest.toml lists a picture twice"
    assert not on_disk - set(listed), (
        f"pictures with no entry in assets/manifest.toml: {sorted(on_disk - set(listed))}"
    )
    assert not set(listed) - on_disk, f"manifest entries with no picture: {sorted(set(listed) - on_disk)}"
    shown = {p for pictures in shown_pictures().values() for p in pictures}
    unshown = sorted(path for path in on_disk if (ASSETS / path).resolve() not in shown)
    assert not unshown, f"pictures in assets/ that no document shows: {unshown}"


def test_every_manifest_command_names_a_script_and_real_flags():
    for entry in manifest():
        words = shlex.split(entry["command"])
        where = f"assets/manifest.toml, {entry['path']}"
        assert words[0] == "python" and (ROOT / words[1]).is_file(), f"{where}: no script {words[1:2]}"
        if words[1].startswith("answers/"):
            fields = config_defaults(ROOT / words[1])
            for flag in FLAG.findall(" ".join(words[2:])):
                field_of(flag, fields)  # fails for a flag the answer does not have
            assert entry["output"] in ANSWER_OUTPUTS, f"{where}: answers write no {entry['output']}"
        else:
            assert entry["output"] == f"assets/{entry['path']}" and entry["output"] in words, (
                f"{where}: the command must write the picture itself ({entry['output']})"
            )


@pytest.mark.parametrize("topic", TOPICS)
def test_a_sheet_with_pictures_points_to_their_commands(topic):
    sheet = (QUESTIONS / f"{topic}.md").read_text()
    links = "../assets/manifest.toml" in sheet
    assert links or "../assets/" not in sheet, f"{topic}.md shows pictures but does not link their commands"


@pytest.mark.parametrize("name", ["shapes", "simple-shapes"])
def test_the_data_pictures_are_what_their_command_draws(name):
    """The two data pictures are drawn, not trained, so they must match their command exactly; if
    the shapes change, rerun the command in assets/manifest.toml."""
    import cv2

    from benchmarks.assets import data_rows

    path = ASSETS / ("shapes.png" if name == "shapes" else "simple_shapes.png")
    drawn = gendojo.make_grid(data_rows(name), scale=3 if name == "shapes" else None)
    stored = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
    assert stored.shape == drawn.shape and (stored == drawn).all(), (
        f"{path.name} is not what `python benchmarks/assets.py draw {name} ...` draws now: rerun it"
    )


# --- Numbers the sheets state that a library update could change ---------------------------------


def test_the_gan_sheets_float32_facts_hold_in_pytorch():
    """gan.md: σ(a) rounds to 1 from a ≈ 17 but to 0 only below a ≈ −88; BCELoss clamps its log at
    −100, so a confident wrong D gives a loss of 100 and a gradient of 0, not inf or nan."""
    import torch

    sigma = torch.sigmoid(torch.tensor([16.5, 17.0, -88.0, -89.0]))
    assert sigma[0] < 1 and sigma[1] == 1 and 0 < sigma[2] < 1e-37 and sigma[3] == 0
    logit = torch.tensor([30.0], requires_grad=True)
    loss = torch.nn.functional.binary_cross_entropy(torch.sigmoid(logit), torch.zeros(1))
    loss.backward()
    assert loss.item() == 100 and logit.grad.item() == 0
    logit = torch.tensor([-30.0], requires_grad=True)
    torch.nn.functional.binary_cross_entropy(torch.sigmoid(logit), torch.ones(1)).backward()
    assert logit.grad.item() == pytest.approx(-0.094, abs=0.001)  # the logit form gives −1


def test_the_loss_plot_puts_measures_that_are_not_losses_on_their_own_axis(tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    saved = []
    monkeypatch.setattr(Figure, "savefig", lambda figure, path, **kwargs: saved.append(figure))
    history = {"critic_loss": [0.1] * 30, "g_loss": [0.2] * 30, "wasserstein": [-0.1] * 30}
    gendojo.save_loss_plot(history | {"critic_updates": list(range(30))}, tmp_path / "wgan.png")
    gendojo.save_loss_plot({"loss": [1.0, 0.5]}, tmp_path / "ae.png")
    wgan, ae = saved
    left, right = wgan.axes

    def named(axes):  # the running means are unnamed lines ("_child…")
        return [line.get_label() for line in axes.lines if not line.get_label().startswith("_")]

    assert left.get_ylabel() == "loss" and named(left) == ["critic_loss", "g_loss"]
    assert right.get_ylabel() == "wasserstein (not a loss)" and named(right) == ["wasserstein"]
    assert [text.get_text() for text in left.get_legend().get_texts()] == [
        "critic_loss",
        "g_loss",
        "wasserstein",
    ]
    assert len(ae.axes) == 1 and ae.axes[0].get_ylabel() == "loss"


# --- Every sheet in the same learner-first order --------------------------------------------------

ORDER = (
    "The idea",
    "Data",
    "Architecture",
    "Parameter counts",
    "Hyperparameters",
    "Questions",
    "Where the four frameworks differ",
    "What goes wrong",  # the GAN family only
    "Check yourself",
    "Results",
    "Appendix: engineering notes",
)
GAN_FAMILY = ("gan", "dcgan", "cgan", "wgan", "pix2pix")


@pytest.mark.parametrize("topic", TOPICS)
def test_sheet_sections_come_in_the_learners_order(topic):
    sheet = (QUESTIONS / f"{topic}.md").read_text()
    titles = re.findall(r"^## (.+)$", sheet, re.M)
    expected = [t for t in ORDER if t != "What goes wrong" or topic in GAN_FAMILY]
    assert titles == expected, f"{topic}.md's sections are {titles}"


@pytest.mark.parametrize("topic", TOPICS)
def test_questions_name_what_to_write_and_what_comes_out(topic):
    sheet = (QUESTIONS / f"{topic}.md").read_text()
    questions = section(sheet, "Questions") or ""
    assert f"python -m gendojo starter mywork --topic {topic}" in questions
    numbers = sorted(
        {n for path in (REFERENCE / topic).glob(f"{topic}_*.py") for n in sheets.solution_signatures(path)}
    )
    for number in numbers:
        assert f"<!-- signatures Q{number} -->" in questions, f"{topic}.md: Q{number} has no signature table"
    assert sheets.refresh(sheet, topic) == sheet, (
        f"{topic}.md's signature tables differ from the answers: run python -m gendojo.sheets"
    )
    assert questions.count("*A correct answer:*") >= len(numbers), (
        f"{topic}.md: a question says not what it gives"
    )
    think = questions.split("Then think about these", 1)[-1]
    asked = len(re.findall(r"^\d+\. ", think, re.M))
    assert asked and think.count("<details><summary>") == asked, (
        f"{topic}.md: a question has no expected answer"
    )


@pytest.mark.parametrize("topic", TOPICS)
def test_sheet_links_its_papers_and_writes_math_for_github(topic):
    sheet = (QUESTIONS / f"{topic}.md").read_text()
    header = sheet.split("## The idea", 1)[0]
    assert "**Papers:**" in header and re.search(r"\(\d{4}\)|, \d{4}", header), f"{topic}.md: no papers"
    assert "$$" in sheet, f"{topic}.md has no display math GitHub renders"


def test_signature_tables_follow_the_answers(tmp_path):
    """Break an answer's signature on purpose: the block computed for the sheet changes."""
    answers = tmp_path / "answers" / "ae"
    answers.mkdir(parents=True)
    for path in (REFERENCE / "ae").glob("ae_*.py"):
        (answers / path.name).write_text(path.read_text())
    sheet = (QUESTIONS / "ae.md").read_text()
    assert sheets.refresh(sheet, "ae", tmp_path / "answers") == sheet
    keras = answers / "ae_keras.py"
    keras.write_text(
        keras.read_text().replace("def reconstruct(networks, images)", "def reconstruct(networks, x)")
    )
    changed = sheets.refresh(sheet, "ae", tmp_path / "answers")
    assert "| Keras 3 | `reconstruct(networks, x)` |" in changed and changed != sheet


def test_the_index_has_a_study_path_through_every_topic():
    index = (QUESTIONS / "README.md").read_text()
    path = section(index, "Study path")
    assert path, "questions/README.md has no '## Study path'"
    rows = table_rows(path)
    assert rows and all(row[2] and re.search(r"\d+–\d+ h", row[3]) for row in rows), rows
    for topic in TOPICS:
        assert f"]({topic}.md)" in path, f"the study path leaves out {topic}"


def anchors(markdown):
    """GitHub's anchors for the headings of a Markdown text."""
    found = set()
    for title in re.findall(r"^#{1,6} (.+)$", markdown, re.M):
        slug = re.sub(r"[^\w\- ]", "", title.strip().lower()).replace(" ", "-")
        found.add(slug)
    return found


def test_every_link_to_a_heading_finds_it():
    pages = [*QUESTIONS.glob("*.md"), ROOT / "README.md"]
    for page in pages:
        text = page.read_text()
        for target, anchor in re.findall(r"\]\(([^)#\s]*)#([^)\s]+)\)", text):
            if "://" in target:
                continue
            linked = (page.parent / target).resolve() if target else page
            assert linked.is_file(), f"{page.name} links {target}, which does not exist"
            assert anchor in anchors(linked.read_text()), (
                f"{page.name} links {target}#{anchor}: no such heading"
            )
