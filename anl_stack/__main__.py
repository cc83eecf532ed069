from anl_stack.cli import main

main()
