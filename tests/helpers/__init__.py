"""What several test modules build their cases from, imported explicitly (tests.helpers.X), never as bare
modules found through sys.path: fake compare runs and CLI apps (compare_fakes), dataset folders and hostile image
files written in the layouts the loaders accept (data_files)."""
