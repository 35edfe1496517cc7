"""nbgrader configuration: solutions/ is the instructor source, exercises/ the generated release."""

c = get_config()  # noqa: F821  (provided by traitlets when nbgrader loads this file)

c.CourseDirectory.root = "."
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "exercises"
c.CourseDirectory.db_url = "sqlite:///gradebook.db"
# Graded cells explore thousands of schedules; give slow machines headroom without hanging forever.
c.ExecutePreprocessor.timeout = 120
c.Execute.timeout = 120

# Feedback pages show each failing check's verdict, never the hidden tests, their seeds or library
# frames (gotchalab.feedback).
from gotchalab.feedback import configure as _feedback  # noqa: E402

_feedback(c)
