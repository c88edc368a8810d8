"""SFT data (the sft-data stage): chat items from judged synthetic data, evolved instructions and user
files, labelled by domain, intent, difficulty and length, then sampled to a target size stratified
over the label combinations."""
