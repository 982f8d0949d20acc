"""megaphone: social-media posts kept as YAML queue files, validated, previewed and published."""

__version__ = "0.1.0"
