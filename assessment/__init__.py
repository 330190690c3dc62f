"""The clinic's assessment: normative values and, built on them, the assessment protocols."""
