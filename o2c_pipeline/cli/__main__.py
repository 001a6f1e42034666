from o2c_pipeline.cli import main

main()
