"""Data formats and file I/O: one reader family for seeds, samples and benchmark sets (record_files), and one
reader and one writer per sample layout.
"""
