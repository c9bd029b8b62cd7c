"""The demo district: `flask demo load` fills an empty database for a first look at QualExam."""
