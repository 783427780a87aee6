from tabnn.__main__ import main


def test_main_job_prints_autoint_next_to_lightgbm(capsys):
    main(["--rows", "3000", "--verbose", "0"])
    out = capsys.readouterr().out
    assert "tabnn AutoIntClassifier" in out and "LightGBM" in out and "base rate" in out
